// The Repository on PostgreSQL: coroutine queries on pooled libpq connections, prepared once
// per connection; the click flush is one pipelined transaction.
#include "repository/repository.hpp"

#include <keel/db/group_commit.hpp>
#include <keel/postgres/postgres.hpp>

#include <span>

namespace linkd::migrations {
std::span<const keel::db::Migration> postgres();
}

namespace linkd {
namespace {

namespace pg = keel::postgres;

constexpr const char* kLinkColumns =
    "id, slug, url, owner, permanent, created_at, updated_at, expires_at, clicks, last_click_at";

std::string sql(std::string_view a, std::string_view b = {}) { return std::string(a) + std::string(b); }

Link read_link(const pg::Row& r) {
    Link l;
    l.id = r.get<std::int64_t>(0);
    l.slug = r.get<std::string>(1);
    l.url = r.get<std::string>(2);
    l.owner = r.get<std::int64_t>(3);
    l.permanent = r.get<bool>(4);
    l.created_at = r.get<std::int64_t>(5);
    l.updated_at = r.get<std::int64_t>(6);
    l.expires_at = r.get<std::optional<std::int64_t>>(7);
    l.clicks = r.get<std::int64_t>(8);
    l.last_click_at = r.get<std::optional<std::int64_t>>(9);
    return l;
}

std::optional<Link> first_link(const pg::Rows& rows) {
    return rows.empty() ? std::nullopt : std::optional<Link>(read_link(rows[0]));
}

class PostgresRepository final : public Repository {
public:
    explicit PostgresRepository(const RepositoryOptions& o)
        : pool_(pg::make_pool(o.pool, {.conninfo = o.url,
                                       .connect_timeout = o.pool.acquire_timeout,
                                       .query_timeout = o.query_timeout})) {}

    Task<Result<int>> migrate() override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        co_return co_await pg::migrate(*c, migrations::postgres());
    }

    Task<Result<void>> ping() override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY_VOID(co_await c->exec(""));
        co_return Result<void>{};
    }

    // Concurrent creations share one transaction (one durable commit): see write_links.
    Task<Result<Link>> insert_link(Link link) override { co_return co_await inserts_.submit(std::move(link)); }

    Task<Result<std::optional<Link>>> find_link(std::string slug) override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY(rows, co_await c->query(sql("SELECT ", kLinkColumns) + " FROM links WHERE slug = $1", slug));
        co_return first_link(rows);
    }

    Task<Result<std::optional<Link>>> update_link(std::int64_t owner, std::string slug, LinkChange ch,
                                                  std::int64_t now) override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        std::optional<std::int64_t> expires = ch.expires_at ? *ch.expires_at : std::nullopt;
        // COALESCE keeps what the change leaves out; $5 says whether the expiry is part of the
        // change at all ($4 NULL then means "remove it").
        KEEL_CO_TRY(rows, co_await c->query(sql("UPDATE links SET url = COALESCE($3, url), "
                                                "expires_at = CASE WHEN $5::boolean THEN $4::bigint ELSE expires_at END, "
                                                "permanent = COALESCE($6, permanent), updated_at = $7 "
                                                "WHERE owner = $1 AND slug = $2 RETURNING ",
                                                kLinkColumns),
                                            owner, slug, ch.url, expires, ch.expires_at.has_value(), ch.permanent, now));
        co_return first_link(rows);
    }

    Task<Result<std::optional<Link>>> delete_link(std::int64_t owner, std::string slug) override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY(rows, co_await c->query(sql("DELETE FROM links WHERE owner = $1 AND slug = $2 RETURNING ",
                                                kLinkColumns),
                                            owner, slug));
        co_return first_link(rows);
    }

    Task<Result<std::vector<Link>>> list_links(std::int64_t owner, std::optional<std::int64_t> before,
                                               int limit) override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY(rows, co_await c->query(sql("SELECT ", kLinkColumns) +
                                                " FROM links WHERE owner = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                                            owner, before.value_or(INT64_MAX), limit));
        std::vector<Link> out;
        out.reserve(rows.size());
        for (auto row : rows) {
            out.push_back(read_link(row));
        }
        co_return out;
    }

    Task<Result<void>> add_clicks(std::vector<ClickDelta> batch) override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        std::vector<pg::Query> q;
        q.reserve(batch.size() + 2);
        q.push_back({"BEGIN", {}});
        for (const ClickDelta& d : batch) {
            // Clicks of a link deleted meanwhile update nothing and insert nothing.
            q.push_back({"WITH t AS (UPDATE links SET clicks = clicks + $2::bigint, last_click_at = $4::bigint "
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
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY(rows, co_await c->query("SELECT day, clicks FROM clicks_daily WHERE link_id = $1 AND day >= $2 "
                                            "ORDER BY day",
                                            link_id, from_day));
        std::vector<DayClicks> out;
        for (auto row : rows) {
            out.push_back({row.get<std::int64_t>(0), row.get<std::int64_t>(1)});
        }
        co_return out;
    }

    Task<Result<ApiKey>> insert_key(ApiKey key) override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY(rows, co_await c->query("INSERT INTO api_keys (name, prefix, hash, admin, created_at) "
                                            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                                            key.name, key.prefix, key.hash, key.admin, key.created_at));
        key.id = rows[0].get<std::int64_t>(0);
        co_return key;
    }

    Task<Result<std::optional<ApiKey>>> find_key_by_prefix(std::string prefix) override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY(rows, co_await c->query("SELECT id, name, prefix, hash, admin, created_at, revoked_at "
                                            "FROM api_keys WHERE prefix = $1",
                                            prefix));
        if (rows.empty()) {
            co_return std::optional<ApiKey>{};
        }
        auto r = rows[0];
        ApiKey k;
        k.id = r.get<std::int64_t>(0);
        k.name = r.get<std::string>(1);
        k.prefix = r.get<std::string>(2);
        k.hash = r.get<std::string>(3);
        k.admin = r.get<bool>(4);
        k.created_at = r.get<std::int64_t>(5);
        k.revoked_at = r.get<std::optional<std::int64_t>>(6);
        co_return std::optional<ApiKey>(std::move(k));
    }

    Task<Result<bool>> revoke_key(std::int64_t id, std::int64_t now) override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY(rows, co_await c->query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                                            id, now));
        co_return rows.affected() == 1;
    }

    Task<Result<bool>> has_admin_key() override {
        KEEL_CO_TRY(c, co_await pool_->acquire());
        KEEL_CO_TRY(rows, co_await c->query(
                              "SELECT EXISTS (SELECT 1 FROM api_keys WHERE admin AND revoked_at IS NULL)"));
        co_return rows[0].get<bool>(0);
    }

    static constexpr const char* kInsertLink =
        "INSERT INTO links (slug, url, owner, permanent, created_at, updated_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (slug) DO NOTHING RETURNING id";

    static pg::Params insert_params(const Link& l) {
        return pg::Params::of(l.slug, l.url, l.owner, l.permanent, l.created_at, l.updated_at, l.expires_at);
    }

    /// One batch of new links: alone, a plain INSERT; several, one pipelined transaction. A
    /// taken slug inserts nothing (ON CONFLICT DO NOTHING), so it fails only its own request.
    Task<std::vector<Result<Link>>> write_links(std::vector<Link>& batch) {
        std::vector<Result<Link>> out;
        out.reserve(batch.size());
        auto fail_all = [&](const keel::Error& e) {
            out.clear();
            for (std::size_t i = 0; i < batch.size(); ++i) {
                out.emplace_back(e);
            }
        };
        auto conn = co_await pool_->acquire();
        if (!conn) {
            fail_all(conn.error());
            co_return out;
        }
        std::vector<pg::Rows> results;
        std::size_t first = 0;
        if (batch.size() == 1) {
            auto one = co_await (*conn)->query_params(kInsertLink, insert_params(batch[0]));
            if (!one) {
                fail_all(one.error());
                co_return out;
            }
            results.push_back(std::move(*one));
        } else {
            std::vector<pg::Query> q;
            q.reserve(batch.size() + 2);
            q.push_back({"BEGIN", {}});
            for (const Link& l : batch) {
                q.push_back({kInsertLink, insert_params(l), true});
            }
            q.push_back({"COMMIT", {}});
            auto many = co_await (*conn)->pipeline(std::move(q));
            if (!many) {
                fail_all(many.error());
                co_return out;
            }
            results = std::move(*many);
            first = 1;  // after BEGIN
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const pg::Rows& rows = results[first + i];
            if (rows.empty()) {
                out.emplace_back(keel::Error::with_detail(keel::Errc::conflict,
                                                          "duplicate key: slug \"" + batch[i].slug + "\""));
            } else {
                batch[i].id = rows[0].get<std::int64_t>(0);
                out.emplace_back(std::move(batch[i]));
            }
        }
        co_return out;
    }

    std::vector<NamedPoolStats> pool_stats() const override { return {{"postgres", pool_->stats()}}; }
    void close() override { pool_->close(); }

private:
    std::unique_ptr<keel::db::Pool<pg::Conn>> pool_;
    keel::db::GroupCommit<Link, Result<Link>> inserts_{
        [this](std::vector<Link>& batch) { return write_links(batch); }, {.max_batch = 128}};
};

}  // namespace

std::unique_ptr<Repository> make_postgres_repository(const RepositoryOptions& options) {
    return std::make_unique<PostgresRepository>(options);
}

}  // namespace linkd
