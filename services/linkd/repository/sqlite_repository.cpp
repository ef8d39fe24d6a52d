// The Repository on SQLite: every call runs on the WorkerPool through keel::sqlite.
#include "repository/repository.hpp"

#include <keel/db/group_commit.hpp>
#include <keel/sqlite/sqlite.hpp>

#include <span>

namespace linkd::migrations {
std::span<const keel::db::Migration> sqlite();
}

namespace linkd {
namespace {

namespace sqlite = keel::sqlite;

constexpr const char* kLinkColumns =
    "id, slug, url, owner, permanent, created_at, updated_at, expires_at, clicks, last_click_at";

Link read_link(const sqlite::Stmt& st) {
    Link l;
    l.id = st.get<std::int64_t>(0);
    l.slug = st.get<std::string>(1);
    l.url = st.get<std::string>(2);
    l.owner = st.get<std::int64_t>(3);
    l.permanent = st.get<bool>(4);
    l.created_at = st.get<std::int64_t>(5);
    l.updated_at = st.get<std::int64_t>(6);
    l.expires_at = st.get<std::optional<std::int64_t>>(7);
    l.clicks = st.get<std::int64_t>(8);
    l.last_click_at = st.get<std::optional<std::int64_t>>(9);
    return l;
}

ApiKey read_key(const sqlite::Stmt& st) {
    ApiKey k;
    k.id = st.get<std::int64_t>(0);
    k.name = st.get<std::string>(1);
    k.prefix = st.get<std::string>(2);
    k.hash = st.get<std::string>(3);
    k.admin = st.get<bool>(4);
    k.created_at = st.get<std::int64_t>(5);
    k.revoked_at = st.get<std::optional<std::int64_t>>(6);
    return k;
}

Result<std::optional<Link>> one_link(sqlite::Stmt& st) {
    KEEL_TRY(row, st.step());
    if (!row) {
        return std::optional<Link>{};
    }
    return std::optional<Link>(read_link(st));
}

/// Runs fn inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error).
template <class F>
auto in_transaction(sqlite::Conn& c, F fn) -> decltype(fn()) {
    KEEL_TRY_VOID(c.exec("BEGIN IMMEDIATE"));
    auto r = fn();
    if (!r) {
        (void)c.exec("ROLLBACK");
        return r;
    }
    KEEL_TRY_VOID(c.exec("COMMIT"));
    return r;
}

class SqliteRepository final : public Repository {
public:
    SqliteRepository(const RepositoryOptions& o, std::string path)
        : db_(sqlite::DatabaseOptions{.file = {.path = std::move(path), .busy_timeout = o.query_timeout},
                                      .readers = o.pool}) {}

    Task<Result<int>> migrate() override {
        co_return co_await db_.write([](sqlite::Conn& c) { return sqlite::migrate(c, migrations::sqlite()); });
    }

    Task<Result<void>> ping() override {
        co_return co_await db_.read([](sqlite::Conn& c) -> Result<void> {
            KEEL_TRY(st, c.prepare("SELECT 1"));
            KEEL_TRY(row, st.step());
            (void)row;
            return {};
        });
    }

    // Concurrent creations share one transaction (one WAL commit): see write_links.
    Task<Result<Link>> insert_link(Link link) override { co_return co_await inserts_.submit(std::move(link)); }

    /// One batch of new links in one transaction. A taken slug inserts nothing (ON CONFLICT DO
    /// NOTHING), so it fails only its own request.
    Task<std::vector<Result<Link>>> write_links(std::vector<Link>& batch) {
        auto written = co_await db_.write([&](sqlite::Conn& c) -> Result<std::vector<Result<Link>>> {
            return in_transaction(c, [&]() -> Result<std::vector<Result<Link>>> {
                std::vector<Result<Link>> out;
                for (Link& link : batch) {
                    KEEL_TRY(st, c.prepare("INSERT INTO links (slug, url, owner, permanent, created_at, updated_at, "
                                           "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                                           "ON CONFLICT (slug) DO NOTHING RETURNING id"));
                    st.bind_all(link.slug, link.url, link.owner, link.permanent, link.created_at, link.updated_at,
                                link.expires_at);
                    KEEL_TRY(row, st.step());
                    if (!row) {
                        out.emplace_back(keel::Error::with_detail(keel::Errc::conflict,
                                                                  "duplicate key: slug \"" + link.slug + "\""));
                        continue;
                    }
                    link.id = st.get<std::int64_t>(0);
                    out.emplace_back(std::move(link));
                }
                return out;
            });
        });
        if (!written) {
            co_return std::vector<Result<Link>>(batch.size(), written.error());
        }
        co_return std::move(*written);
    }

    Task<Result<std::optional<Link>>> find_link(std::string slug) override {
        co_return co_await db_.read([&](sqlite::Conn& c) -> Result<std::optional<Link>> {
            KEEL_TRY(st, c.prepare(std::string("SELECT ") + kLinkColumns + " FROM links WHERE slug = ?1"));
            st.bind(1, slug);
            return one_link(st);
        });
    }

    Task<Result<std::optional<Link>>> update_link(std::int64_t owner, std::string slug, LinkChange ch,
                                                  std::int64_t now) override {
        co_return co_await db_.write([&](sqlite::Conn& c) -> Result<std::optional<Link>> {
            // One statement: COALESCE keeps what the change leaves out; ?5 says whether the
            // expiry is part of the change at all (?4 NULL then means "remove it").
            KEEL_TRY(st, c.prepare(std::string("UPDATE links SET url = COALESCE(?3, url), "
                                               "expires_at = CASE WHEN ?5 THEN ?4 ELSE expires_at END, "
                                               "permanent = COALESCE(?6, permanent), updated_at = ?7 "
                                               "WHERE owner = ?1 AND slug = ?2 RETURNING ") +
                                   kLinkColumns));
            std::optional<std::int64_t> expires = ch.expires_at ? *ch.expires_at : std::nullopt;
            st.bind_all(owner, slug, ch.url, expires, ch.expires_at.has_value(), ch.permanent, now);
            return one_link(st);
        });
    }

    Task<Result<std::optional<Link>>> delete_link(std::int64_t owner, std::string slug) override {
        co_return co_await db_.write([&](sqlite::Conn& c) -> Result<std::optional<Link>> {
            KEEL_TRY(st, c.prepare(std::string("DELETE FROM links WHERE owner = ?1 AND slug = ?2 RETURNING ") +
                                   kLinkColumns));
            st.bind_all(owner, slug);
            KEEL_TRY(found, one_link(st));
            KEEL_TRY(rest, st.step());  // let the statement finish
            (void)rest;
            return found;
        });
    }

    Task<Result<std::vector<Link>>> list_links(std::int64_t owner, std::optional<std::int64_t> before,
                                               int limit) override {
        co_return co_await db_.read([&](sqlite::Conn& c) -> Result<std::vector<Link>> {
            KEEL_TRY(st, c.prepare(std::string("SELECT ") + kLinkColumns +
                                   " FROM links WHERE owner = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"));
            st.bind_all(owner, before.value_or(INT64_MAX), limit);
            std::vector<Link> out;
            for (;;) {
                KEEL_TRY(row, st.step());
                if (!row) {
                    return out;
                }
                out.push_back(read_link(st));
            }
        });
    }

    Task<Result<void>> add_clicks(std::vector<ClickDelta> batch) override {
        co_return co_await db_.write([&](sqlite::Conn& c) -> Result<void> {
            return in_transaction(c, [&]() -> Result<void> {
                for (const ClickDelta& d : batch) {
                    KEEL_TRY(total, c.prepare("UPDATE links SET clicks = clicks + ?2, last_click_at = ?3 WHERE id = ?1"));
                    total.bind_all(d.link_id, d.count, d.at);
                    KEEL_TRY(changed, total.run());
                    if (changed == 0) {
                        continue;  // deleted since it was clicked
                    }
                    KEEL_TRY(daily, c.prepare("INSERT INTO clicks_daily (link_id, day, clicks) VALUES (?1, ?2, ?3) "
                                              "ON CONFLICT (link_id, day) DO UPDATE SET clicks = clicks + excluded.clicks"));
                    daily.bind_all(d.link_id, d.day, d.count);
                    KEEL_TRY_VOID(daily.run());
                }
                return {};
            });
        });
    }

    Task<Result<std::vector<DayClicks>>> clicks_by_day(std::int64_t link_id, std::int64_t from_day) override {
        co_return co_await db_.read([&](sqlite::Conn& c) -> Result<std::vector<DayClicks>> {
            KEEL_TRY(st, c.prepare("SELECT day, clicks FROM clicks_daily WHERE link_id = ?1 AND day >= ?2 ORDER BY day"));
            st.bind_all(link_id, from_day);
            std::vector<DayClicks> out;
            for (;;) {
                KEEL_TRY(row, st.step());
                if (!row) {
                    return out;
                }
                out.push_back({st.get<std::int64_t>(0), st.get<std::int64_t>(1)});
            }
        });
    }

    Task<Result<ApiKey>> insert_key(ApiKey key) override {
        co_return co_await db_.write([&](sqlite::Conn& c) -> Result<ApiKey> {
            KEEL_TRY(st, c.prepare("INSERT INTO api_keys (name, prefix, hash, admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
            st.bind_all(key.name, key.prefix, key.hash, key.admin, key.created_at);
            KEEL_TRY_VOID(st.run());
            key.id = c.last_insert_rowid();
            return key;
        });
    }

    Task<Result<std::optional<ApiKey>>> find_key_by_prefix(std::string prefix) override {
        co_return co_await db_.read([&](sqlite::Conn& c) -> Result<std::optional<ApiKey>> {
            KEEL_TRY(st, c.prepare("SELECT id, name, prefix, hash, admin, created_at, revoked_at FROM api_keys "
                                   "WHERE prefix = ?1"));
            st.bind(1, prefix);
            KEEL_TRY(row, st.step());
            if (!row) {
                return std::optional<ApiKey>{};
            }
            return std::optional<ApiKey>(read_key(st));
        });
    }

    Task<Result<bool>> revoke_key(std::int64_t id, std::int64_t now) override {
        co_return co_await db_.write([&](sqlite::Conn& c) -> Result<bool> {
            KEEL_TRY(st, c.prepare("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"));
            st.bind_all(id, now);
            KEEL_TRY(changed, st.run());
            return changed == 1;
        });
    }

    Task<Result<bool>> has_admin_key() override {
        co_return co_await db_.read([](sqlite::Conn& c) -> Result<bool> {
            KEEL_TRY(st, c.prepare("SELECT EXISTS (SELECT 1 FROM api_keys WHERE admin AND revoked_at IS NULL)"));
            KEEL_TRY(row, st.step());
            (void)row;
            return st.get<bool>(0);
        });
    }

    std::vector<NamedPoolStats> pool_stats() const override {
        return {{"sqlite_writer", db_.writer_stats()}, {"sqlite_readers", db_.reader_stats()}};
    }
    void close() override { db_.close(); }

private:
    sqlite::Database db_;
    keel::db::GroupCommit<Link, Result<Link>> inserts_{
        [this](std::vector<Link>& batch) { return write_links(batch); }, {.max_batch = 128}};
};

}  // namespace

std::unique_ptr<Repository> make_sqlite_repository(const RepositoryOptions& options, std::string path) {
    return std::make_unique<SqliteRepository>(options, std::move(path));
}

}  // namespace linkd
