// The Repository on SQLite: every call runs on the WorkerPool through keel::sqlite; rows are
// read into the domain types by column name (domain/model.hpp describes them).
#include "repository/repository.hpp"

#include <keel/db/group_commit.hpp>
#include <keel/idempotency/sqlite_store.hpp>
#include <keel/jobs/sqlite_store.hpp>
#include <keel/sqlite/sqlite.hpp>

#include <span>

namespace linkd::migrations {
std::span<const keel::db::Migration> sqlite();
}

namespace linkd {
namespace {

namespace sqlite = keel::sqlite;
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

class SqliteRepository final : public Repository {
  public:
    SqliteRepository(const RepositoryOptions& o, std::string path)
        : db_(sqlite::DatabaseOptions{.file = {.path = std::move(path), .busy_timeout = o.query_timeout},
                                      .readers = o.pool}) {}

    Task<Result<int>> migrate() override {
        KEEL_CO_TRY(applied, co_await db_.migrate(migrations::sqlite()));
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

    // Concurrent creations share one transaction (one WAL commit): see write_links.
    Task<Result<Link>> insert_link(Link link, EventFor event) override {
        NewLink item{std::move(link), std::move(event)};  // named: GCC 12 mishandles such temporaries in co_await
        co_return co_await inserts_.submit(std::move(item));
    }

    // The job `event` makes for `link`, enqueued on `c` inside its transaction.
    Result<void> enqueue_event(sqlite::Conn& c, const EventFor& event, const Link& link) {
        if (event) {
            if (std::optional<keel::jobs::NewJob> job = event(link)) {
                KEEL_TRY(made, jobs_.enqueue(c, *job));
                (void)made;
            }
        }
        return {};
    }

    /// One batch of new links (and their events) in one transaction. A taken slug inserts
    /// nothing (ON CONFLICT DO NOTHING), so it fails only its own request.
    Task<std::vector<Result<Link>>> write_links(std::vector<NewLink>& batch) {
        auto written = co_await db_.write([&](sqlite::Conn& c) -> Result<std::vector<Result<Link>>> {
            return c.transaction([&]() -> Result<std::vector<Result<Link>>> {
                std::vector<Result<Link>> out;
                for (auto& [link, event] : batch) {
                    auto id = c.query_one<std::int64_t>(
                        "INSERT INTO links (slug, url, owner, permanent, created_at, updated_at, expires_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (slug) DO NOTHING RETURNING id",
                        link.slug, link.url, link.owner, link.permanent, link.created_at, link.updated_at,
                        link.expires_at);
                    if (!id && id.error() == keel::Errc::not_found) {
                        out.emplace_back(keel::Error::with_detail(keel::Errc::conflict,
                                                                  "duplicate key: slug \"" + link.slug + "\""));
                        continue;
                    }
                    KEEL_TRY(new_id, std::move(id));
                    link.id = new_id;
                    KEEL_TRY_VOID(enqueue_event(c, event, link));
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
        co_return or_none(
            co_await db_.query_one<Link>(with_link_columns("SELECT ", " FROM links WHERE slug = ?1"), slug));
    }

    Task<Result<std::optional<Link>>> update_link(std::int64_t owner, std::string slug, LinkChange ch,
                                                  std::int64_t now) override {
        // One statement: COALESCE keeps what the change leaves out; ?5 says whether the expiry
        // is part of the change at all (?4 NULL then means "remove it").
        std::optional<std::int64_t> expires = ch.expires_at ? *ch.expires_at : std::nullopt;
        co_return or_none(co_await db_.write([&](sqlite::Conn& c) {
            return c.query_one<Link>(with_link_columns("UPDATE links SET url = COALESCE(?3, url), "
                                                       "expires_at = CASE WHEN ?5 THEN ?4 ELSE expires_at END, "
                                                       "permanent = COALESCE(?6, permanent), updated_at = ?7 "
                                                       "WHERE owner = ?1 AND slug = ?2 RETURNING "),
                                     owner, slug, ch.url, expires, ch.expires_at.has_value(), ch.permanent, now);
        }));
    }

    Task<Result<std::optional<Link>>> delete_link(std::int64_t owner, std::string slug, EventFor event) override {
        co_return co_await db_.write([&](sqlite::Conn& c) {
            return c.transaction([&]() -> Result<std::optional<Link>> {
                KEEL_TRY(deleted, or_none(c.query_one<Link>(
                                      with_link_columns("DELETE FROM links WHERE owner = ?1 AND slug = ?2 RETURNING "),
                                      owner, slug)));
                if (deleted) {
                    KEEL_TRY_VOID(enqueue_event(c, event, *deleted));
                }
                return deleted;
            });
        });
    }

    Task<Result<std::vector<std::string>>> purge_expired(std::int64_t expired_before, int limit) override {
        co_return co_await db_.write([&](sqlite::Conn& c) {
            return c.query_all<std::string>(
                "DELETE FROM links WHERE id IN (SELECT id FROM links WHERE expires_at IS "
                "NOT NULL AND expires_at < ?1 LIMIT ?2) RETURNING slug",
                expired_before, limit);
        });
    }

    Task<Result<std::vector<Link>>> list_links(std::int64_t owner, std::optional<std::int64_t> before,
                                               int limit) override {
        return db_.query_all<Link>(
            with_link_columns("SELECT ", " FROM links WHERE owner = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"), owner,
            before.value_or(INT64_MAX), limit);
    }

    Task<Result<void>> add_clicks(std::vector<ClickDelta> batch) override {
        co_return co_await db_.write([&](sqlite::Conn& c) -> Result<void> {
            return c.transaction([&]() -> Result<void> {
                for (const ClickDelta& d : batch) {
                    KEEL_TRY(total, c.execute("UPDATE links SET clicks = clicks + ?2, last_click_at = ?3 WHERE id = ?1",
                                              d.link_id, d.count, d.at));
                    if (total.rows_affected == 0) {
                        continue;  // deleted since it was clicked
                    }
                    KEEL_TRY_VOID(
                        c.execute("INSERT INTO clicks_daily (link_id, day, clicks) VALUES (?1, ?2, ?3) "
                                  "ON CONFLICT (link_id, day) DO UPDATE SET clicks = clicks + excluded.clicks",
                                  d.link_id, d.day, d.count));
                }
                return {};
            });
        });
    }

    Task<Result<std::vector<DayClicks>>> clicks_by_day(std::int64_t link_id, std::int64_t from_day) override {
        return db_.query_all<DayClicks>(
            "SELECT day, clicks FROM clicks_daily WHERE link_id = ?1 AND day >= ?2 ORDER BY day", link_id, from_day);
    }

    Task<Result<ApiKey>> insert_key(ApiKey key) override {
        KEEL_CO_TRY(made, co_await db_.execute("INSERT INTO api_keys (name, prefix, hash, admin, created_at) "
                                               "VALUES (?1, ?2, ?3, ?4, ?5)",
                                               key.name, key.prefix, key.hash, key.admin, key.created_at));
        key.id = made.last_insert_id;
        co_return key;
    }

    Task<Result<std::optional<ApiKey>>> find_key_by_prefix(std::string prefix) override {
        co_return or_none(co_await db_.query_one<ApiKey>(
            "SELECT id, name, prefix, hash, admin, created_at, revoked_at FROM api_keys WHERE prefix = ?1", prefix));
    }

    Task<Result<bool>> revoke_key(std::int64_t id, std::int64_t now) override {
        KEEL_CO_TRY(done, co_await db_.execute(
                              "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", id, now));
        co_return done.rows_affected == 1;
    }

    Task<Result<bool>> has_admin_key() override {
        return db_.query_one<bool>("SELECT EXISTS (SELECT 1 FROM api_keys WHERE admin AND revoked_at IS NULL)");
    }

    std::vector<NamedPoolStats> pool_stats() const override {
        return {{"sqlite_writer", db_.writer_stats()}, {"sqlite_readers", db_.reader_stats()}};
    }
    void close() override { db_.close(); }

  private:
    sqlite::Database db_;
    keel::jobs::SqliteStore jobs_{db_};
    keel::idempotency::SqliteStore idempotency_keys_{db_};
    keel::db::GroupCommit<NewLink, Result<Link>> inserts_{
        [this](std::vector<NewLink>& batch) { return write_links(batch); }, {.max_batch = 128}};
};

}  // namespace

std::unique_ptr<Repository> make_sqlite_repository(const RepositoryOptions& options, std::string path) {
    return std::make_unique<SqliteRepository>(options, std::move(path));
}

}  // namespace linkd
