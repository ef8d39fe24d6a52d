#pragma once
// The business rules of links: what a valid link is, who may see and change it, slug
// generation, expiry, the redirect cache and click counting. Thin handlers call this; SQL
// lives in the repository.

#include "domain/model.hpp"
#include "repository/repository.hpp"
#include "service/click_counter.hpp"
#include "service/clock.hpp"
#include "service/errors.hpp"
#include "service/events.hpp"
#include "service/shared_cache.hpp"

#include <keel/cache/lru_cache.hpp>
#include <keel/cache/singleflight.hpp>
#include <keel/json/nullable.hpp>
#include <keel/observe/metrics.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace linkd {

struct CreateLinkInput {
    std::string url = {};
    std::optional<std::string> slug = {};
    std::optional<std::string> expires_at = {};  ///< RFC 3339
    std::optional<bool> permanent = {};
};

struct UpdateLinkInput {
    keel::json::Nullable<std::string> url = {};         ///< null is refused: a link needs a URL
    keel::json::Nullable<std::string> expires_at = {};  ///< null removes the expiry
    keel::json::Nullable<bool> permanent = {};          ///< null is refused: true or false
};

struct LinkPage {
    std::vector<Link> items = {};
    std::optional<std::string> next_cursor = {};
};

struct LinkStats {
    std::string slug = {};
    std::int64_t total_clicks = 0;
    std::vector<DayClicks> days = {};  ///< the last 30 days, oldest first, zeros included
};

struct Redirect {
    const CachedLink* link = nullptr;
    CachedAnswer owner = {};  ///< keeps `link` alive; empty inside follow_cached's callback
};

/// Where the service counts what it does (all optional).
struct LinkMetrics {
    keel::metrics::Counter* links_created = nullptr;
    keel::metrics::Counter* redirects = nullptr;
    keel::metrics::Histogram* flush_duration = nullptr;
    keel::metrics::Counter* flush_errors = nullptr;
};

struct LinkServiceOptions {
    std::size_t slug_length = 7;
    bool memory_cache = true;  ///< off: every redirect asks the shared cache or the database
    std::size_t cache_entries = 100'000;
    keel::Duration cache_ttl = std::chrono::seconds(60);
    keel::Duration negative_ttl = std::chrono::seconds(5);
    WallClock now = system_now;
};

class LinkService {
  public:
    static constexpr int kMaxPage = 100;
    static constexpr int kDefaultPage = 20;
    static constexpr int kStatsDays = 30;

    LinkService(Repository& repo, ClickCounter& clicks, LinkServiceOptions options);

    /// `trace_parent`: the request's W3C traceparent, carried by the webhook event's job.
    Task<ServiceResult<Link>> create(const Principal& caller, CreateLinkInput in, std::string trace_parent = {});
    Task<ServiceResult<Link>> get(const Principal& caller, std::string slug);
    Task<ServiceResult<Link>> update(const Principal& caller, std::string slug, UpdateLinkInput in);
    Task<ServiceResult<void>> remove(const Principal& caller, std::string slug, std::string trace_parent = {});
    /// `limit` 1-100 (nullopt: 20); `cursor` from the previous page.
    Task<ServiceResult<LinkPage>> list(const Principal& caller, std::optional<int> limit,
                                       std::optional<std::string> cursor);
    Task<ServiceResult<LinkStats>> stats(const Principal& caller, std::string slug);

    /// The hot path: the target of `slug` and one click counted; Fault::not_found, Fault::gone
    /// (expired), Fault::unavailable. follow asks the shared cache or the database on a miss.
    Task<ServiceResult<Redirect>> follow(std::string slug);

    /// When memory knows `slug`: calls fn(const ServiceResult<Redirect>&) without suspending
    /// and returns true. The link is read in place (LruCache::visit: nothing copied, no
    /// reference count written, so loop threads do not contend on a hot slug): fn must not
    /// keep the Redirect. False on a miss: then call follow_uncached.
    template <class Fn>
    bool follow_cached(std::string_view slug, Fn&& fn) {
        return options_.memory_cache &&
               cache_.visit(slug, [&](const CachedAnswer& link) { fn(answer(link, slug, /*own=*/false)); });
    }
    /// The miss path alone (after follow_cached said false): load, cache, answer.
    Task<ServiceResult<Redirect>> follow_uncached(std::string slug);

    /// Writes the pending clicks in one batch; on failure they stay pending. Returns how many
    /// clicks were written.
    Task<keel::Result<std::int64_t>> flush_clicks();

    /// Deletes the links that expired before `expired_before`, in batches; how many. (Until
    /// then an expired link answers 410; afterwards 404.)
    Task<keel::Result<std::int64_t>> purge_expired(std::int64_t expired_before);

    keel::cache::CacheStats cache_stats() const { return cache_.stats(); }
    /// Before serving: the second cache level, shared by every instance (may stay unset).
    void set_shared_cache(SharedLinkCache* shared) { shared_ = shared; }
    /// Forget `slug` in this instance's memory (told by another instance that it changed).
    void forget(std::string_view slug) {
        changes_.fetch_add(1, std::memory_order_acq_rel);
        cache_.erase(slug);
    }
    /// Forget every cached slug (invalidations may have been missed).
    void forget_all() {
        changes_.fetch_add(1, std::memory_order_acq_rel);
        cache_.clear();
    }
    /// Before serving: where to count links created, redirects and flushes.
    void set_metrics(LinkMetrics m) { metrics_ = m; }
    /// Before serving: where created and deleted links are announced (null: nowhere). Not owned.
    void set_events(LinkEvents* events) { events_ = events; }
    const ClickCounter& clicks() const { return clicks_; }

    /// The rules, for tests and for the handler's early checks.
    static std::optional<std::string> url_problem(std::string_view url);
    static std::optional<std::string> slug_problem(std::string_view slug);

  private:
    Link with_pending(Link l) const;
    /// `own`: the Redirect keeps the link alive (else it is valid while the cache entry is read).
    ServiceResult<Redirect> answer(const CachedAnswer& link, std::string_view slug, bool own);
    Task<ServiceResult<Link>> insert_with_generated_slug(Link link, std::string trace_parent);
    /// A miss in memory: the shared cache, then the database (which fills the shared cache).
    Task<keel::Result<CachedAnswer>> load(std::string slug);
    /// `slug` changed: forget it here and, through the shared cache, everywhere.
    Task<void> invalidate(std::string slug);

    Repository& repo_;
    ClickCounter& clicks_;
    LinkServiceOptions options_;
    keel::cache::LruCache<CachedAnswer> cache_;
    SharedLinkCache* shared_ = nullptr;
    std::atomic<std::uint64_t> changes_{0};  ///< forget() calls: a load that saw one does not cache
    /// Concurrent misses for one slug share one load.
    keel::cache::SingleFlight<keel::Result<CachedAnswer>> lookups_;
    LinkMetrics metrics_;
    LinkEvents* events_ = nullptr;
    // The event stored with a created / deleted link (none without events_), its job carrying
    // the request's traceparent.
    EventFor created_event(std::string trace_parent) const;
    EventFor deleted_event(std::string trace_parent) const;
};

/// Cursor encoding (opaque to clients): exposed for tests.
std::string encode_cursor(std::int64_t id);
std::optional<std::int64_t> decode_cursor(std::string_view cursor);

}  // namespace linkd
