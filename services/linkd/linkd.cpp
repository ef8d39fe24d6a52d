#include "linkd.hpp"

#include <keel/config/config.hpp>
#include <keel/core/sleep.hpp>
#include <keel/idempotency/middleware.hpp>
#include <keel/jobs/observe.hpp>
#include <keel/observe/runtime_metrics.hpp>
#include <keel/ratelimit/limiter.hpp>

#include <stdexcept>

namespace linkd {

using namespace std::chrono_literals;

void define_config(keel::config::Config& c) {
    c.define_string("db.url", "sqlite://linkd.db",
                    "database: sqlite://<path> (embedded) or postgres://user@host:port/db");
    c.define_int("db.max_open", 10, 1, 1000, "most open connections (SQLite: readers; one writer besides)");
    c.define_int("db.max_idle", 4, 0, 1000, "most idle connections kept");
    c.define_duration("db.max_lifetime", 30min, 0s, 24h, "close connections older than this (0 = never)");
    c.define_duration("db.max_idle_time", 5min, 0s, 24h, "close connections idle longer than this (0 = never)");
    c.define_duration("db.acquire_timeout", 2s, 1ms, 1min, "wait for a free connection at most this long (then 503)");
    c.define_duration("db.query_timeout", 5s, 1ms, 10min, "a query taking longer fails (503)");
    c.define_string("links.base_url", "", "prefix of short_url (empty: http://<Host header>)");
    c.define_string("docs.assets_dir", LINKD_DOCS_ASSETS,
                    "npm's swagger-ui-dist, for the /docs page (empty: no page; installed by scripts/bootstrap)");
    c.define_int("links.slug_length", 7, 4, 32, "length of generated slugs");
    c.define_duration("links.purge_interval", 1h, 0s, 24h * 7,
                      "how often expired links are deleted, once per cluster (0: never)");
    c.define_duration("links.purge_after", 24h * 7, 0s, 24h * 365,
                      "how long an expired link still answers 410 before it is deleted");
    c.define_duration("idempotency.ttl", 24h, 0s, 24h * 30,
                      "how long POST /v1/links and /v1/keys replay the answer to a repeated Idempotency-Key (0: off)");
    c.define_bool("cache.memory", true,
                  "keep resolved slugs in memory (off: every redirect asks Redis or the database)");
    c.define_bool("cache.shared", true,
                  "with redis.url: share resolved slugs in Redis, and drop changed slugs from every instance's memory");
    c.define_int("cache.max_entries", 100000, 1, 100000000, "redirect cache size (entries)");
    c.define_duration("cache.ttl", 60s, 0s, 24h, "how long a resolved slug is cached");
    c.define_duration("cache.negative_ttl", 5s, 0s, 24h, "how long an unknown slug is cached as unknown");
    c.define_string("cache.redirect_cache_control", "private, max-age=0",
                    "Cache-Control of redirects (shared caches would hide clicks)");
    c.define_string("cache.read_cache_control", "private, no-cache",
                    "Cache-Control of link reads (revalidate with ETag / Last-Modified)");
    c.define_duration("clicks.flush_interval", 1s, 10ms, 1h, "how often counted clicks are written");
    c.define_string("auth.admin_key", "", "an admin API key to accept (lk_ + 40 letters/digits)", {}, true);
    c.define_duration("auth.cache_ttl", 30s, 0s, 1h, "how long a verified API key is cached");
    c.define_string("webhook.url", "", "receives link.created / link.deleted events (empty: off)");
    c.define_string("webhook.secret", "", "HMAC-SHA256 key for X-Linkd-Signature", {}, true);
    c.define_int("webhook.max_attempts", 6, 1, 100, "delivery attempts per event (then kept as a discarded job)");
    c.define_duration("webhook.retry_base", 1s, 1ms, 1h, "the first retry's delay (doubling, with jitter)");
    c.define_duration("webhook.retry_max", 10min, 1ms, 24h, "no retry waits longer");
    c.define_duration("webhook.timeout", 5s, 10ms, 5min, "one delivery attempt, at most");
    c.define_int("webhook.concurrency", 4, 1, 256, "deliveries at once per instance");
    c.define_duration("jobs.lease", 30s, 100ms, 1h,
                      "a running job's lease: another instance takes it over this long after its own stopped");
    c.define_duration("jobs.poll", 1s, 10ms, 1h, "how often idle instances look for due jobs besides being woken");
    c.define_duration("webhook.drain_timeout", 10s, 0s, 10min,
                      "at shutdown, time running deliveries get to finish (the rest stay queued in the database)");
    c.define_string("redis.url", "",
                    "redis://[[user]:password@]host[:port][/db]: rate limits and the redirect cache shared by every "
                    "instance (empty: in memory)");
    c.define_bool("ratelimit.fail_open", true,
                  "when Redis is unreachable, allow (true) or deny (false) limited requests");
    c.define_int("ratelimit.create_per_minute", 600, 0, 100000000,
                 "links an API key may create per minute (0 = no limit)");
    c.define_int("ratelimit.create_burst", 50, 1, 1000000, "links an API key may create at once");
    c.define_int("ratelimit.redirect_per_second", 200, 0, 100000000,
                 "redirects per client IP per second (0 = no limit)");
    c.define_int("ratelimit.redirect_burst", 400, 1, 1000000, "redirects a client IP may make at once");
}

LinkdOptions options_from(const keel::config::Config& c) {
    LinkdOptions o;
    o.repo.url = c.get_string("db.url");
    o.repo.pool.max_open = c.get_int<std::size_t>("db.max_open");
    o.repo.pool.max_idle = c.get_int<std::size_t>("db.max_idle");
    o.repo.pool.max_lifetime = c.get_duration("db.max_lifetime");
    o.repo.pool.max_idle_time = c.get_duration("db.max_idle_time");
    o.repo.pool.acquire_timeout = c.get_duration("db.acquire_timeout");
    o.repo.query_timeout = c.get_duration("db.query_timeout");
    o.base_url = c.get_string("links.base_url");
    o.docs_assets_dir = c.get_string("docs.assets_dir");
    while (!o.base_url.empty() && o.base_url.back() == '/') {
        o.base_url.pop_back();
    }
    o.links.slug_length = c.get_int<std::size_t>("links.slug_length");
    o.links.memory_cache = c.get_bool("cache.memory");
    o.shared_cache = c.get_bool("cache.shared");
    o.links.cache_entries = c.get_int<std::size_t>("cache.max_entries");
    o.links.cache_ttl = c.get_duration("cache.ttl");
    o.links.negative_ttl = c.get_duration("cache.negative_ttl");
    o.flush_interval = c.get_duration("clicks.flush_interval");
    o.redirect_cache_control = c.get_string("cache.redirect_cache_control");
    o.read_cache_control = c.get_string("cache.read_cache_control");
    o.admin_key = c.get_string("auth.admin_key");
    o.keys.cache_ttl = c.get_duration("auth.cache_ttl");
    o.webhook.url = c.get_string("webhook.url");
    o.webhook.secret = c.get_string("webhook.secret");
    o.webhook.max_attempts = c.get_int<int>("webhook.max_attempts");
    o.webhook.retry_base = c.get_duration("webhook.retry_base");
    o.webhook.retry_max = c.get_duration("webhook.retry_max");
    o.webhook.timeout = c.get_duration("webhook.timeout");
    o.webhook.concurrency = c.get_int<int>("webhook.concurrency");
    o.purge_interval = c.get_duration("links.purge_interval");
    o.purge_after = c.get_duration("links.purge_after");
    o.idempotency_ttl = c.get_duration("idempotency.ttl");
    o.jobs.lease = c.get_duration("jobs.lease");
    o.jobs.poll = c.get_duration("jobs.poll");
    o.webhook_drain = c.get_duration("webhook.drain_timeout");
    o.create_limit = {static_cast<double>(c.get_int("ratelimit.create_per_minute")) / 60.0,
                      c.get_int<std::uint32_t>("ratelimit.create_burst")};
    o.redis_url = c.get_string("redis.url");
    o.ratelimit_fail_open = c.get_bool("ratelimit.fail_open");
    o.redirect_limit = {static_cast<double>(c.get_int("ratelimit.redirect_per_second")),
                        c.get_int<std::uint32_t>("ratelimit.redirect_burst")};
    return o;
}

namespace {
std::unique_ptr<Repository> open_or_throw(const RepositoryOptions& o) {
    auto r = open_repository(o);
    if (!r) {
        throw std::invalid_argument(std::string(r.error().message()));
    }
    return std::move(*r);
}
}  // namespace

Linkd::Linkd(LinkdOptions options, keel::WorkerPool& workers, keel::log::Logger* logger)
    : options_(std::move(options)),
      logger_(logger),
      repo_(open_or_throw(options_.repo)),
      links_(*repo_, clicks_, options_.links),
      keys_(*repo_, options_.keys),
      background_(&workers) {
    if (!options_.redis_url.empty()) {
        auto ro = keel::redis::parse_url(options_.redis_url);
        if (!ro) {
            throw std::invalid_argument("redis.url = \"" + keel::config::redact_credentials(options_.redis_url) +
                                        "\": " + std::string(ro.error().message()));
        }
        redis_ = std::make_unique<keel::redis::Client>(*ro);
        if (options_.shared_cache) {
            shared_cache_ = std::make_unique<RedisLinkCache>(
                *redis_, background_.loop(),
                RedisLinkCache::Listeners{[this](std::string_view slug) { links_.forget(slug); },
                                          [this] { links_.forget_all(); }, [this] { keys_.forget_verified(); }});
            links_.set_shared_cache(shared_cache_.get());
            keys_.set_on_revoked([this] { return shared_cache_->key_revoked(); });
        }
    }
    client_ = std::make_unique<keel::client::Client>(keel::client::ClientOptions{
        .timeout = options_.webhook.timeout, .max_retries = 0, .user_agent = "linkd-webhooks"});
    webhooks_ = std::make_unique<Webhooks>(options_.webhook, *client_, logger_);
    if (webhooks_->enabled()) {
        links_.set_events(webhooks_.get());
    }
    keel::jobs::RunnerOptions jo = options_.jobs;
    jo.queues = {webhooks_->queue(), {.name = "maintenance", .concurrency = 1}};
    jo.shutdown_timeout = options_.webhook_drain;
    jo.on_event = [this](const keel::jobs::Event& e) { log_job_event(e); };
    jobs_ = std::make_unique<keel::jobs::Runner>(repo_->jobs(), std::move(jo));
    webhooks_->install(*jobs_);
    if (options_.purge_interval > keel::Duration::zero()) {
        jobs_->handle_raw("links.purge_expired", [this](keel::jobs::Context&) -> keel::Task<keel::Result<void>> {
            auto before =
                options_.links.now() - std::chrono::duration_cast<std::chrono::seconds>(options_.purge_after).count();
            KEEL_CO_TRY(purged, co_await links_.purge_expired(before));
            if (logger_ && purged > 0) {
                logger_->info("expired links purged", {{"links", purged}});
            }
            co_return keel::Result<void>{};
        });
        jobs_->every("links.purge_expired", options_.purge_interval,
                     keel::jobs::NewJob{.kind = "links.purge_expired", .queue = "maintenance", .max_attempts = 3});
    }
    jobs_->handle_raw("idempotency.prune", [this](keel::jobs::Context&) -> keel::Task<keel::Result<void>> {
        KEEL_CO_TRY(pruned, co_await repo_->idempotency_keys().prune(keel::idempotency::system_clock_millis()));
        if (logger_ && pruned > 0) {
            logger_->info("expired idempotency keys pruned", {{"keys", pruned}});
        }
        co_return keel::Result<void>{};
    });
    jobs_->every("idempotency.prune", std::chrono::hours(1),
                 keel::jobs::NewJob{.kind = "idempotency.prune", .queue = "maintenance", .max_attempts = 3});
}

Linkd::~Linkd() {
    stop();
}

keel::Result<std::optional<CreatedKey>> Linkd::start() {
    auto migrated = background_.block_on([this] { return repo_->migrate(); });
    if (!migrated) {
        return std::move(migrated).error();
    }
    if (logger_ && *migrated > 0) {
        logger_->info("database migrated", {{"applied", *migrated}});
    }
    auto admin = background_.block_on([this] { return keys_.ensure_admin(options_.admin_key); });
    if (!admin) {
        return keel::Error::with_detail(keel::Errc::invalid_argument, admin.error().detail);
    }
    jobs_->start(background_.loop());
    jobs_started_ = true;
    background_.loop().post([this] {
        flush_timer_ = background_.loop().run_every(options_.flush_interval, [this] {
            if (flushing_) {
                return;  // the previous flush is still writing
            }
            flushing_ = true;
            keel::spawn(links_.flush_clicks(), [this](std::optional<keel::Result<std::int64_t>> r, std::exception_ptr) {
                flushing_ = false;
                if (r && !*r && logger_) {
                    logger_->warn("click flush failed; the clicks stay pending",
                                  {{"error", r->error().message()}, {"pending", links_.clicks().pending_total()}});
                }
            });
        });
    });
    return std::move(*admin);
}

keel::Result<CreatedKey> Linkd::create_key(std::string name, bool admin) {
    auto migrated = background_.block_on([this] { return repo_->migrate(); });
    if (!migrated) {
        return std::move(migrated).error();
    }
    const Principal operator_at_console{0, true, ""};
    auto made = background_.block_on([&] { return keys_.create(operator_at_console, name, admin); });
    if (!made) {
        return keel::Error::with_detail(keel::Errc::invalid_argument, made.error().detail);
    }
    return std::move(*made);
}

void Linkd::add_admin_routes(keel::router::Router& admin) {
    admin.get("/debug/jobs", keel::jobs::debug_page(repo_->jobs(), jobs_.get()));
    admin.post("/debug/jobs/{id}/retry", keel::jobs::retry_action(repo_->jobs()));
    admin.post("/debug/jobs/{id}/discard", keel::jobs::discard_action(repo_->jobs()));
}

void Linkd::add_routes(keel::router::Router& r, std::function<bool()> accepting) {
    RoutesConfig cfg{links_,  keys_,         [this] { return repo_->ping(); }, std::move(accepting), options_.base_url,
                     logger_, openapi_json()};
    cfg.docs_assets_dir = options_.docs_assets_dir;
    cfg.redirect_cache_control = options_.redirect_cache_control;
    cfg.read_cache_control = options_.read_cache_control;
    auto limiter = [this](const keel::ratelimit::Limit& limit,
                          const char* prefix) -> std::shared_ptr<keel::ratelimit::Limiter> {
        if (!redis_) {
            return std::make_shared<keel::ratelimit::LocalLimiter>(limit);
        }
        keel::redis::RateLimiterOptions ro{.prefix = prefix, .fail_open = options_.ratelimit_fail_open};
        keel::log::Logger* logger = logger_;
        ro.on_unavailable = [logger, prefix](std::string_view reason, bool failing_open) {
            if (logger) {
                logger->warn(failing_open ? "rate limits are failing open: Redis cannot decide, requests are allowed"
                                          : "rate limits are failing closed: Redis cannot decide, requests are refused",
                             {{"limiter", prefix}, {"error", reason}});
            }
        };
        auto l = std::make_shared<keel::redis::RateLimiter>(*redis_, limit, std::move(ro));
        redis_limiters_.push_back(l);
        return l;
    };
    if (options_.create_limit.rate > 0) {
        cfg.create_limiter = limiter(options_.create_limit, "linkd:rl:create:");
    }
    if (options_.redirect_limit.rate > 0) {
        cfg.redirect_limiter = limiter(options_.redirect_limit, "linkd:rl:redirect:");
    }
    if (options_.idempotency_ttl > keel::Duration::zero()) {
        // Keys are per API key (after authentication; an unauthenticated request has none).
        auto principal = [](keel::http::Request& req) -> std::optional<std::string> {
            const Principal* p = req.context().get<Principal>();
            return p ? std::optional<std::string>("key:" + std::to_string(p->key_id)) : std::nullopt;
        };
        cfg.idempotency = keel::idempotency::middleware(repo_->idempotency_keys(),
                                                        {.principal = principal, .ttl = options_.idempotency_ttl});
    }
    linkd::add_routes(r, cfg);
}

keel::Result<std::int64_t> Linkd::flush_clicks() {
    return background_.block_on([this] { return links_.flush_clicks(); });
}

void Linkd::log_job_event(const keel::jobs::Event& e) {
    if (logger_ == nullptr) {
        return;
    }
    using K = keel::jobs::Event::Kind;
    std::string_view msg = e.kind == K::failed      ? "job attempt failed; it will be retried"
                           : e.kind == K::discarded ? "job discarded after its last attempt"
                           : e.kind == K::cancelled ? "job cancelled"
                           : e.kind == K::released  ? "jobs released at shutdown"
                                                    : "jobs: database error";
    keel::log::Level level =
        e.kind == K::failed || e.kind == K::released ? keel::log::Level::info : keel::log::Level::warn;
    if (e.job_id == 0) {
        logger_->log(level, msg, {{"error", e.message}});
        return;
    }
    logger_->log(level, msg,
                 {{"job", e.job_id},
                  {"kind", e.job_kind},
                  {"attempt", e.attempt},
                  {"error", e.message},
                  {"traceparent", e.trace_parent}});
}

void Linkd::stop() {
    if (stopped_) {
        return;
    }
    stopped_ = true;
    // Stop the timer and wait for a running flush on the loop itself, then flush the rest.
    background_.block_on([this]() -> keel::Task<void> {
        if (flush_timer_) {
            background_.loop().cancel(flush_timer_);
        }
        while (flushing_) {
            co_await keel::sleep_for(5ms);
        }
    });
    auto flushed = flush_clicks();
    if (logger_) {
        if (flushed) {
            logger_->info("clicks flushed at shutdown", {{"clicks", *flushed}});
        } else {
            logger_->error("clicks could not be flushed at shutdown",
                           {{"error", flushed.error().message()}, {"lost", links_.clicks().pending_total()}});
        }
    }
    if (jobs_started_) {
        background_.block_on([this] { return jobs_->shutdown(); });
        if (logger_) {
            auto w = webhooks_->stats();
            auto j = jobs_->stats();
            logger_->info("jobs at shutdown", {{"webhooks_delivered", w.delivered},
                                               {"webhook_attempts_failed", w.failed},
                                               {"webhooks_given_up", w.given_up},
                                               {"released", j.released}});
        }
    }
    client_.reset();  // its connections live on the background loop: close them while it runs
    if (shared_cache_) {
        links_.set_shared_cache(nullptr);
        keys_.set_on_revoked({});
        background_.block_on([this] { return shared_cache_->close(); });
        shared_cache_.reset();  // (its subscription too)
    }
    redis_.reset();  // (the same for Redis connections, on whichever loops made them)
    if (logger_) {
        for (const NamedPoolStats& p : repo_->pool_stats()) {
            const keel::db::PoolStats& st = p.stats;
            logger_->info(
                "pool stats",
                {{"pool", p.name},
                 {"max_open", st.max_open},
                 {"open", st.open},
                 {"in_use", st.in_use},
                 {"idle", st.idle},
                 {"wait_count", st.wait_count},
                 {"wait_duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(st.wait_duration).count()},
                 {"max_idle_closed", st.max_idle_closed},
                 {"max_idle_time_closed", st.max_idle_time_closed},
                 {"max_lifetime_closed", st.max_lifetime_closed},
                 {"broken_closed", st.broken_closed},
                 {"connect_errors", st.connect_errors}});
        }
        auto cache = links_.cache_stats();
        logger_->info("cache stats", {{"hits", cache.hits}, {"misses", cache.misses}, {"entries", cache.entries}});
    }
    repo_->close();
    background_.stop();
}

}  // namespace linkd
