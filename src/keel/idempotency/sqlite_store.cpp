// The keys on SQLite: begin() is the upsert and, when the key was not free, the read of what
// holds it, both in one write (the single writer makes them one step).
#include <keel/idempotency/sqlite_store.hpp>

#include "statements.hpp"

namespace keel::idempotency {

Task<Result<int>> SqliteStore::migrate() {
    co_return co_await db_.write(
        [](sqlite::Conn& c) { return sqlite::migrate(c, sql::kMigrations, sql::kMigrationsTable); });
}

Task<Result<Begun>> SqliteStore::begin(Scope s, std::string fingerprint, std::string owner, UnixMillis now,
                                       UnixMillis locked_until, UnixMillis expires_at) {
    co_return co_await db_.write([&](sqlite::Conn& c) -> Result<Begun> {
        KEEL_TRY(taken, c.query_all<std::string>(sql::kBegin, s.principal, s.key, s.method, s.path, fingerprint, owner,
                                                 locked_until, now, expires_at));
        if (!taken.empty()) {
            return Begun{};
        }
        KEEL_TRY(row, c.query_one<sql::KeyRow>(sql::kFind, s.principal, s.key, s.method, s.path));
        return sql::held(row, fingerprint);
    });
}

Task<Result<bool>> SqliteStore::complete(Scope s, std::string owner, StoredResponse r) {
    auto done = co_await db_.write([&](sqlite::Conn& c) {
        return c.execute(sql::kComplete, s.principal, s.key, s.method, s.path, owner, r.status, r.headers, r.body);
    });
    if (!done) {
        co_return std::move(done).error();
    }
    co_return done->rows_affected == 1;
}

Task<Result<void>> SqliteStore::release(Scope s, std::string owner) {
    auto done = co_await db_.write(
        [&](sqlite::Conn& c) { return c.execute(sql::kRelease, s.principal, s.key, s.method, s.path, owner); });
    if (!done) {
        co_return std::move(done).error();
    }
    co_return Result<void>{};
}

Task<Result<int>> SqliteStore::prune(UnixMillis now) {
    auto done = co_await db_.write([&](sqlite::Conn& c) { return c.execute(sql::kPrune, now); });
    if (!done) {
        co_return std::move(done).error();
    }
    co_return static_cast<int>(done->rows_affected);
}

}  // namespace keel::idempotency
