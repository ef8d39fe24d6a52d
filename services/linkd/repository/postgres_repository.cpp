// The Repository on PostgreSQL: coroutine queries on pooled libpq connections, prepared once
// per connection, rows read into the domain types by column name (domain/model.hpp); the
// creations and the click flush are pipelined transactions.
#include "repository/repository.hpp"

#include <keel/db/group_commit.hpp>
#include <keel/idempotency/postgres_store.hpp>
#include <keel/jobs/postgres_store.hpp>
#include <keel/postgres/postgres.hpp>

#include <span>

namespace linkd::migrations {
std::span<const keel::db::Migration> postgres();
}

namespace linkd {
namespace {

namespace pg = keel::postgres;
using keel::db::or_none;

/// `head` + the columns of a Link + `tail`.
std::string with_link_columns(std::string_view head, std::string_view tail = {}) {
    return std::string(head) +
           "id, slug, url, owner, permanent, created_at, updated_at, expires_at, clicks, last_click_at" +
           std::string(tail);
}

// A creation waiting for its batch: the link and the event to store with it.
struct NewLink {
    Link link;
    EventFor event;
};

// The job `event` makes for `link`, if any.
std::optional<keel::jobs::NewJob> job_for(const EventFor& event, const Link& link) {
    return event ? event(link) : std::nullopt;
}

class PostgresRepository final : public Repository {
  public:
    explicit PostgresRepository(const RepositoryOptions& o)
        : db_(o.pool, connect_options(o)), jobs_(db_, connect_options(o)), idempotency_keys_(db_) {}

    static pg::ConnectOptions connect_options(const RepositoryOptions& o) {
        return {.conninfo = o.url, .connect_timeout = o.pool.acquire_timeout, .query_timeout = o.query_timeout};
    }

    Task<Result<int>> migrate() override {
        KEEL_CO_TRY(applied, co_await db_.migrate(migrations::postgres()));
        KEEL_CO_TRY(jobs_applied, co_await jobs_.migrate());
        KEEL_CO_TRY(keys_applied, co_await idempotency_keys_.migrate());
        co_return applied + jobs_applied + keys_applied;
    }
    keel::jobs::Store& jobs() override { return jobs_; }
    keel::idempotency::Store& idempotency_keys() override { return idempotency_keys_; }

    Task<Result<void>> ping() override {
        KEEL_CO_TRY(one, co_await db_.query_one<std::int64_t>("SELECT 1"));
        (void)one;
        co_return Result<void>{};
    }

    // Concurrent creations share one transaction (one durable commit): see write_links.
    Task<Result<Link>> insert_link(Link link, EventFor event) override {
        NewLink item{std::move(link), std::move(event)};  // named: GCC 12 mishandles such temporaries in co_await
        co_return co_await inserts_.submit(std::move(item));
    }

    Task<Result<std::optional<Link>>> find_link(std::string slug) override {
        co_return or_none(
            co_await db_.query_one<Link>(with_link_columns("SELECT ", " FROM links WHERE slug = $1"), slug));
    }

    Task<Result<std::optional<Link>>> update_link(std::int64_t owner, std::string slug, LinkChange ch,
                                                  std::int64_t now) override {
        std::optional<std::int64_t> expires = ch.expires_at ? *ch.expires_at : std::nullopt;
        // COALESCE keeps what the change leaves out; $5 says whether the expiry is part of the
        // change at all ($4 NULL then means "remove it").
        co_return or_none(co_await db_.query_one<Link>(
            with_link_columns("UPDATE links SET url = COALESCE($3, url), "
                              "expires_at = CASE WHEN $5::boolean THEN $4::bigint ELSE expires_at END, "
                              "permanent = COALESCE($6, permanent), updated_at = $7 "
                              "WHERE owner = $1 AND slug = $2 RETURNING "),
            owner, slug, ch.url, expires, ch.expires_at.has_value(), ch.permanent, now));
    }

    Task<Result<std::optional<Link>>> delete_link(std::int64_t owner, std::string slug, EventFor event) override {
        std::string sql = with_link_columns("DELETE FROM links WHERE owner = $1 AND slug = $2 RETURNING ");
        if (!event) {
            co_return or_none(co_await db_.query_one<Link>(std::move(sql), owner, slug));
        }
        KEEL_CO_TRY(conn, co_await db_.acquire());
        co_return co_await pg::transaction(*conn, [&]() -> Task<Result<std::optional<Link>>> {
            KEEL_CO_TRY(deleted, or_none(co_await conn->query_one<Link>(std::move(sql), owner, slug)));
            if (deleted) {
                if (auto job = job_for(event, *deleted)) {
                    KEEL_CO_TRY(made, co_await jobs_.enqueue(*conn, std::move(*job)));
                    (void)made;
                }
            }
            co_return deleted;
        });
    }

    Task<Result<std::vector<std::string>>> purge_expired(std::int64_t expired_before, int limit) override {
        return db_.query_all<std::string>(
            "DELETE FROM links WHERE id IN (SELECT id FROM links WHERE expires_at IS "
            "NOT NULL AND expires_at < $1 LIMIT $2) RETURNING slug",
            expired_before, limit);
    }

    Task<Result<std::vector<Link>>> list_links(std::int64_t owner, std::optional<std::int64_t> before,
                                               int limit) override {
        return db_.query_all<Link>(
            with_link_columns("SELECT ", " FROM links WHERE owner = $1 AND id < $2 ORDER BY id DESC LIMIT $3"), owner,
            before.value_or(INT64_MAX), limit);
    }

    Task<Result<void>> add_clicks(std::vector<ClickDelta> batch) override {
        KEEL_CO_TRY(c, co_await db_.acquire());
        std::vector<pg::Query> q;
        q.reserve(batch.size() + 2);
        q.push_back({"BEGIN", {}});
        for (const ClickDelta& d : batch) {
            // Clicks of a link deleted meanwhile update nothing and insert nothing.
            q.push_back(
                {"WITH t AS (UPDATE links SET clicks = clicks + $2::bigint, last_click_at = $4::bigint "
                 "WHERE id = $1 RETURNING id) "
                 "INSERT INTO clicks_daily (link_id, day, clicks) SELECT id, $3::integer, $2::bigint FROM t "
                 "ON CONFLICT (link_id, day) DO UPDATE SET clicks = clicks_daily.clicks + EXCLUDED.clicks",
                 pg::Params::of(d.link_id, d.count, d.day, d.at), true});
        }
        q.push_back({"COMMIT", {}});
        KEEL_CO_TRY(done, co_await c->pipeline(std::move(q)));
        (void)done;
        co_return Result<void>{};
    }

    Task<Result<std::vector<DayClicks>>> clicks_by_day(std::int64_t link_id, std::int64_t from_day) override {
        return db_.query_all<DayClicks>(
            "SELECT day, clicks FROM clicks_daily WHERE link_id = $1 AND day >= $2 ORDER BY day", link_id, from_day);
    }

    Task<Result<ApiKey>> insert_key(ApiKey key) override {
        KEEL_CO_TRY(id,
                    co_await db_.query_one<std::int64_t>("INSERT INTO api_keys (name, prefix, hash, admin, created_at) "
                                                         "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                                                         key.name, key.prefix, key.hash, key.admin, key.created_at));
        key.id = id;
        co_return key;
    }

    Task<Result<std::optional<ApiKey>>> find_key_by_prefix(std::string prefix) override {
        co_return or_none(co_await db_.query_one<ApiKey>(
            "SELECT id, name, prefix, hash, admin, created_at, revoked_at FROM api_keys WHERE prefix = $1", prefix));
    }

    Task<Result<bool>> revoke_key(std::int64_t id, std::int64_t now) override {
        KEEL_CO_TRY(done, co_await db_.execute(
                              "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", id, now));
        co_return done.rows_affected == 1;
    }

    Task<Result<bool>> has_admin_key() override {
        return db_.query_one<bool>("SELECT EXISTS (SELECT 1 FROM api_keys WHERE admin AND revoked_at IS NULL)");
    }

    static constexpr const char* kInsertLink =
        "INSERT INTO links (slug, url, owner, permanent, created_at, updated_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (slug) DO NOTHING RETURNING id";

    static pg::Params insert_params(const Link& l) {
        return pg::Params::of(l.slug, l.url, l.owner, l.permanent, l.created_at, l.updated_at, l.expires_at);
    }

    /// One batch of new links: alone and without an event, a plain INSERT; otherwise one
    /// transaction, the INSERTs pipelined, then the events of the links stored. A taken slug
    /// inserts nothing (ON CONFLICT DO NOTHING), so it fails only its own request.
    Task<std::vector<Result<Link>>> write_links(std::vector<NewLink>& batch) {
        std::vector<Result<Link>> out;
        out.reserve(batch.size());
        auto fail_all = [&](const keel::Error& e) {
            out.clear();
            for (std::size_t i = 0; i < batch.size(); ++i) {
                out.emplace_back(e);
            }
        };
        auto conn = co_await db_.acquire();
        if (!conn) {
            fail_all(conn.error());
            co_return out;
        }
        std::vector<pg::Rows> results;
        if (batch.size() == 1 && !batch[0].event) {
            auto one = co_await (*conn)->query_params(kInsertLink, insert_params(batch[0].link));
            if (!one) {
                fail_all(one.error());
                co_return out;
            }
            results.push_back(std::move(*one));
        } else {
            auto written = co_await pg::transaction(**conn, [&]() -> Task<Result<void>> {
                std::vector<pg::Query> q;
                q.reserve(batch.size());
                for (const NewLink& l : batch) {
                    q.push_back({kInsertLink, insert_params(l.link), true});
                }
                KEEL_CO_TRY(many, co_await (*conn)->pipeline(std::move(q)));
                results = std::move(many);
                for (std::size_t i = 0; i < batch.size(); ++i) {
                    if (results[i].empty()) {
                        continue;  // its slug is taken: no link, no event
                    }
                    batch[i].link.id = results[i][0].get<std::int64_t>(0);
                    if (auto job = job_for(batch[i].event, batch[i].link)) {
                        KEEL_CO_TRY(made, co_await jobs_.enqueue(**conn, std::move(*job)));
                        (void)made;
                    }
                }
                co_return Result<void>{};
            });
            if (!written) {
                fail_all(written.error());
                co_return out;
            }
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const pg::Rows& rows = results[i];
            if (rows.empty()) {
                out.emplace_back(keel::Error::with_detail(keel::Errc::conflict,
                                                          "duplicate key: slug \"" + batch[i].link.slug + "\""));
            } else {
                batch[i].link.id = rows[0].get<std::int64_t>(0);
                out.emplace_back(std::move(batch[i].link));
            }
        }
        co_return out;
    }

    std::vector<NamedPoolStats> pool_stats() const override { return {{"postgres", db_.stats()}}; }
    void close() override { db_.close(); }

  private:
    pg::Database db_;
    keel::jobs::PostgresStore jobs_;
    keel::idempotency::PostgresStore idempotency_keys_;
    keel::db::GroupCommit<NewLink, Result<Link>> inserts_{
        [this](std::vector<NewLink>& batch) { return write_links(batch); }, {.max_batch = 128}};
};

}  // namespace

std::unique_ptr<Repository> make_postgres_repository(const RepositoryOptions& options) {
    return std::make_unique<PostgresRepository>(options);
}

}  // namespace linkd
