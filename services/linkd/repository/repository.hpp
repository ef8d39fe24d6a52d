#pragma once
// linkd's repository: the only code that speaks SQL. One interface, two implementations
// (SQLite, PostgreSQL) chosen by db.url; the same tests run against both.
//
// Calls are coroutines awaited on a loop thread. Errors are keel::Errc: conflict (slug or key
// prefix taken), unavailable / timeout (database down, pool exhausted), internal.

#include "domain/model.hpp"

#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/db/pool.hpp>
#include <keel/idempotency/store.hpp>
#include <keel/jobs/store.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace linkd {

using keel::Result;
using keel::Task;

struct NamedPoolStats {
    std::string name = {};
    keel::db::PoolStats stats = {};
};

/// The job announcing a change, made from the stored link and enqueued in the change's own
/// transaction (an outbox: the event exists if and only if the change does); nullopt: none.
using EventFor = std::function<std::optional<keel::jobs::NewJob>(const Link&)>;

class Repository {
  public:
    virtual ~Repository() = default;

    /// Applies the migrations this database lacks (see migrations/<driver>/), and keel's jobs
    /// and idempotency keys tables.
    virtual Task<Result<int>> migrate() = 0;
    /// The jobs in this database (webhook deliveries, periodic work).
    virtual keel::jobs::Store& jobs() = 0;
    /// The Idempotency-Key records of POST /v1/links and /v1/keys.
    virtual keel::idempotency::Store& idempotency_keys() = 0;
    /// A round trip to the database (readiness).
    virtual Task<Result<void>> ping() = 0;

    /// Inserts and returns the link with its id, and `event`'s job in the same transaction;
    /// Errc::conflict when the slug exists (nothing is stored).
    virtual Task<Result<Link>> insert_link(Link link, EventFor event = {}) = 0;
    virtual Task<Result<std::optional<Link>>> find_link(std::string slug) = 0;
    /// Changes a link of `owner`; nullopt when there is no such link of that owner.
    virtual Task<Result<std::optional<Link>>> update_link(std::int64_t owner, std::string slug, LinkChange change,
                                                          std::int64_t now) = 0;
    /// Deletes a link of `owner` (and its click history), enqueueing `event`'s job in the same
    /// transaction; the deleted link, or nullopt.
    virtual Task<Result<std::optional<Link>>> delete_link(std::int64_t owner, std::string slug,
                                                          EventFor event = {}) = 0;
    /// Deletes up to `limit` links that expired before `expired_before` (with their click
    /// history; no events: they had ended already); their slugs.
    virtual Task<Result<std::vector<std::string>>> purge_expired(std::int64_t expired_before, int limit) = 0;
    /// `owner`'s links with id < before (all when nullopt), newest first, at most `limit`.
    virtual Task<Result<std::vector<Link>>> list_links(std::int64_t owner, std::optional<std::int64_t> before,
                                                       int limit) = 0;

    /// Adds a batch of clicks atomically (totals and per-day counts). Clicks of links deleted
    /// meanwhile are dropped.
    virtual Task<Result<void>> add_clicks(std::vector<ClickDelta> batch) = 0;
    /// Per-day clicks of a link from `from_day` on (days without clicks are absent).
    virtual Task<Result<std::vector<DayClicks>>> clicks_by_day(std::int64_t link_id, std::int64_t from_day) = 0;

    /// Inserts a key and returns it with its id; Errc::conflict when the prefix exists.
    virtual Task<Result<ApiKey>> insert_key(ApiKey key) = 0;
    virtual Task<Result<std::optional<ApiKey>>> find_key_by_prefix(std::string prefix) = 0;
    /// Marks a key revoked; false when there is no such unrevoked key.
    virtual Task<Result<bool>> revoke_key(std::int64_t id, std::int64_t now) = 0;
    virtual Task<Result<bool>> has_admin_key() = 0;

    /// Statistics of every connection pool ("postgres"; "sqlite_writer" and "sqlite_readers").
    virtual std::vector<NamedPoolStats> pool_stats() const = 0;
    /// Closes the pools (shutdown).
    virtual void close() = 0;
};

struct RepositoryOptions {
    std::string url = {};  ///< "sqlite://path", "sqlite:///abs/path", "postgres://..." or "postgresql://..."
    keel::db::PoolOptions pool = {};
    keel::Duration query_timeout = std::chrono::seconds(5);
};

/// The implementation db.url names; Errc::invalid_argument for an unknown scheme.
Result<std::unique_ptr<Repository>> open_repository(const RepositoryOptions& options);

std::unique_ptr<Repository> make_sqlite_repository(const RepositoryOptions& options, std::string path);
std::unique_ptr<Repository> make_postgres_repository(const RepositoryOptions& options);

}  // namespace linkd
