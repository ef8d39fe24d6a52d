// The keys on PostgreSQL: begin() is the upsert (one statement, so of two instances given one
// key at once exactly one takes it) and, when the key was not free, the read of what holds it.
#include <keel/db/placeholders.hpp>
#include <keel/idempotency/postgres_store.hpp>

#include "statements.hpp"

namespace keel::idempotency {

Task<Result<int>> PostgresStore::migrate() {
    co_return co_await db_.migrate(sql::kMigrations, sql::kMigrationsTable);
}

Task<Result<Begun>> PostgresStore::begin(Scope s, std::string fingerprint, std::string owner, UnixMillis now,
                                         UnixMillis locked_until, UnixMillis expires_at) {
    KEEL_CO_TRY(conn, co_await db_.acquire());
    // Between the two statements the holder may free the key (a 5xx): then take it again.
    for (int round = 0; round < 3; ++round) {
        KEEL_CO_TRY(taken, co_await conn->query_all<std::string>(db::postgres_placeholders(sql::kBegin), s.principal,
                                                                 s.key, s.method, s.path, fingerprint, owner,
                                                                 locked_until, now, expires_at));
        if (!taken.empty()) {
            co_return Begun{};
        }
        auto row = co_await conn->query_one<sql::KeyRow>(db::postgres_placeholders(sql::kFind), s.principal, s.key,
                                                         s.method, s.path);
        if (row) {
            co_return sql::held(*row, fingerprint);
        }
        if (row.error() != Errc::not_found) {
            co_return std::move(row).error();
        }
    }
    co_return Error(Errc::unavailable, "idempotency: the key was taken and freed three times in a row");
}

Task<Result<bool>> PostgresStore::complete(Scope s, std::string owner, StoredResponse r) {
    KEEL_CO_TRY(done, co_await db_.execute(db::postgres_placeholders(sql::kComplete), s.principal, s.key, s.method,
                                           s.path, owner, r.status, r.headers, r.body));
    co_return done.rows_affected == 1;
}

Task<Result<void>> PostgresStore::release(Scope s, std::string owner) {
    KEEL_CO_TRY(done, co_await db_.execute(db::postgres_placeholders(sql::kRelease), s.principal, s.key, s.method,
                                           s.path, owner));
    (void)done;
    co_return Result<void>{};
}

Task<Result<int>> PostgresStore::prune(UnixMillis now) {
    KEEL_CO_TRY(done, co_await db_.execute(db::postgres_placeholders(sql::kPrune), now));
    co_return static_cast<int>(done.rows_affected);
}

}  // namespace keel::idempotency
