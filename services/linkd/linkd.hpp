#pragma once
// linkd assembled: configuration keys, the repository chosen by db.url, the services, the
// background loop that flushes clicks, and the routes. main.cpp only wires this into a
// keel::App; tests build it directly around a keel::testing::TestServer.

#include "cache/redis_link_cache.hpp"
#include "events/webhooks.hpp"
#include "handler/routes.hpp"
#include "repository/repository.hpp"
#include "service/click_counter.hpp"
#include "service/key_service.hpp"
#include "service/link_service.hpp"

#include <keel/config/config.hpp>
#include <keel/core/loop_thread.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/observe/debug.hpp>
#include <keel/observe/health.hpp>
#include <keel/observe/log.hpp>
#include <keel/observe/metrics.hpp>
#include <keel/ratelimit/gcra.hpp>
#include <keel/redis/client.hpp>
#include <keel/redis/rate_limiter.hpp>
#include <keel/router/router.hpp>

#include <atomic>
#include <memory>
#include <optional>

namespace linkd {

struct LinkdOptions {
    RepositoryOptions repo = {};
    LinkServiceOptions links = {};
    KeyServiceOptions keys = {};
    keel::Duration flush_interval = std::chrono::seconds(1);
    std::string admin_key = {};  ///< auth.admin_key (may be empty)
    /// Link creation per API key, and redirects per client IP (rate 0 = not limited).
    keel::ratelimit::Limit create_limit{.rate = 10, .burst = 50};
    keel::ratelimit::Limit redirect_limit{.rate = 200, .burst = 400};
    /// redis.url ("redis://host:port"): rate limits kept in Redis, shared by every instance.
    std::string redis_url = {};
    bool shared_cache = true;  ///< with redis_url: resolved slugs shared in Redis, changes announced
    bool ratelimit_fail_open = true;
    std::string base_url = {};         ///< links.base_url (may be empty)
    std::string docs_assets_dir = {};  ///< docs.assets_dir: Swagger UI's files for /docs ("" = no page)
    WebhookOptions webhook = {};
    std::string redirect_cache_control = "private, max-age=0";
    std::string read_cache_control = "private, no-cache";
    keel::Duration webhook_drain = std::chrono::seconds(10);  ///< at shutdown, what runs may finish
    keel::Duration purge_interval = std::chrono::hours(1);    ///< 0: expired links are kept
    keel::Duration purge_after = std::chrono::hours(24 * 7);
    keel::Duration idempotency_ttl = std::chrono::hours(24);  ///< 0: Idempotency-Key is ignored
    keel::jobs::RunnerOptions jobs = {};                      ///< lease, poll (queues: linkd's own)
};

/// Defines linkd's configuration keys (db.*, links.*, cache.*, clicks.*, auth.*).
void define_config(keel::config::Config& c);
LinkdOptions options_from(const keel::config::Config& c);

/// The OpenAPI contract as JSON (generated from openapi.yaml at build time).
std::string_view openapi_json();

class Linkd {
  public:
    Linkd(LinkdOptions options, keel::WorkerPool& workers, keel::log::Logger* logger = nullptr);
    ~Linkd();

    /// Migrates the database, makes sure an admin key exists (returning it when it was just
    /// created, to print once), starts the periodic click flush and the jobs runner (webhook
    /// deliveries, including those left by an earlier run). Blocks until done.
    keel::Result<std::optional<CreatedKey>> start();

    /// Migrates, then creates an API key outside any request (`linkd keys create`).
    keel::Result<CreatedKey> create_key(std::string name, bool admin);

    /// linkd's metrics (links created, redirects, cache, pending clicks, flushes, pools), the
    /// database readiness check and /debug/vars sections. Before serving.
    void observe(keel::metrics::Registry& registry, keel::observe::Health& health, keel::observe::Vars& vars);

    /// The admin listener's routes of linkd: GET /debug/jobs, POST /debug/jobs/{id}/retry and
    /// /debug/jobs/{id}/discard (keel/jobs/observe.hpp).
    void add_admin_routes(keel::router::Router& admin);

    /// Adds the API's routes to `r`; `accepting` drives /readyz.
    void add_routes(keel::router::Router& r, std::function<bool()> accepting);

    /// Flushes pending clicks now (blocks); the number written.
    keel::Result<std::int64_t> flush_clicks();

    /// Stops the periodic flush and the jobs (what runs may finish within webhook.drain_timeout;
    /// the rest waits in the database for the next start), flushes what is pending, closes the
    /// pools. Idempotent.
    void stop();

    LinkService& links() noexcept { return links_; }
    KeyService& keys() noexcept { return keys_; }
    Repository& repository() noexcept { return *repo_; }
    keel::LoopThread& background() noexcept { return background_; }
    Webhooks& webhooks() noexcept { return *webhooks_; }
    keel::jobs::Runner& jobs() noexcept { return *jobs_; }
    RedisLinkCache* shared_cache() noexcept { return shared_cache_.get(); }

  private:
    // observe()'s steps.
    void add_service_metrics(keel::metrics::Registry& registry);
    void add_cache_metrics(keel::metrics::Registry& registry);
    void add_dependency_metrics(keel::metrics::Registry& registry);
    void add_health_checks(keel::observe::Health& health);
    void add_vars(keel::observe::Vars& vars);

    LinkdOptions options_;
    keel::log::Logger* logger_;
    std::unique_ptr<Repository> repo_;
    ClickCounter clicks_;
    LinkService links_;
    KeyService keys_;
    keel::LoopThread background_;
    std::unique_ptr<keel::client::Client> client_;  // webhooks; destroyed before the loop stops
    std::unique_ptr<keel::redis::Client> redis_;    // when redis.url is set
    std::unique_ptr<RedisLinkCache> shared_cache_;  // ... and cache.shared
    std::vector<std::shared_ptr<keel::redis::RateLimiter>> redis_limiters_;
    std::unique_ptr<Webhooks> webhooks_;
    std::unique_ptr<keel::jobs::Runner> jobs_;  // on the background loop: webhook deliveries
    keel::TimerId flush_timer_ = 0;
    bool flushing_ = false;  // background loop only
    bool stopped_ = false;
    bool jobs_started_ = false;
    void log_job_event(const keel::jobs::Event& e);
};

}  // namespace linkd
