// linkd's observability wiring, apart from the composition root (linkd.cpp): its metrics, the
// readiness checks of what it depends on, and its /debug/vars sections.
#include "linkd.hpp"

#include <keel/db/pool_metrics.hpp>
#include <keel/jobs/observe.hpp>

namespace linkd {

void Linkd::observe(keel::metrics::Registry& registry, keel::observe::Health& health, keel::observe::Vars& vars) {
    add_service_metrics(registry);
    add_cache_metrics(registry);
    add_dependency_metrics(registry);
    add_health_checks(health);
    add_vars(vars);
}

// Counted as they happen: links created, redirects, click flushes.
void Linkd::add_service_metrics(keel::metrics::Registry& registry) {
    links_.set_metrics({
        &registry.counter("linkd_links_created_total", "Links created.").get(),
        &registry.counter("linkd_redirects_total", "Redirects served (each one a click).").get(),
        &registry
             .histogram("linkd_click_flush_duration_seconds", "Time to write one batch of counted clicks.", {},
                        keel::metrics::exponential_buckets(0.0005, 2, 14))
             .get(),
        &registry.counter("linkd_click_flush_errors_total", "Click flushes that failed (the clicks stay pending).")
             .get(),
    });
}

// Sampled at scrape time: the memory cache, pending clicks, and the shared cache in Redis.
void Linkd::add_cache_metrics(keel::metrics::Registry& registry) {
    registry.add_collector([this](std::vector<keel::metrics::SampledFamily>& out) {
        auto c = links_.cache_stats();
        out.push_back({"linkd_cache_hits_total",
                       "Redirect cache lookups that found the slug (negative entries too).",
                       "counter",
                       {{{}, static_cast<double>(c.hits)}}});
        out.push_back({"linkd_cache_misses_total",
                       "Redirect cache lookups that went to the database.",
                       "counter",
                       {{{}, static_cast<double>(c.misses)}}});
        out.push_back(
            {"linkd_cache_entries", "Slugs in the redirect cache.", "gauge", {{{}, static_cast<double>(c.entries)}}});
        out.push_back({"linkd_clicks_pending",
                       "Clicks counted in memory, not yet written.",
                       "gauge",
                       {{{}, static_cast<double>(links_.clicks().pending_total())}}});
    });
    registry.add_collector([this](std::vector<keel::metrics::SampledFamily>& out) {
        if (!shared_cache_) {
            return;
        }
        auto s = shared_cache_->stats();
        auto counter = [&](const char* name, const char* help, std::uint64_t v) {
            out.push_back({name, help, "counter", {{{}, static_cast<double>(v)}}});
        };
        counter("linkd_shared_cache_hits_total", "Memory misses answered by the shared cache in Redis.", s.hits);
        counter("linkd_shared_cache_misses_total",
                "Memory misses the shared cache did not know (the database answered).", s.misses);
        counter("linkd_shared_cache_errors_total", "Shared cache reads and writes that failed (Redis unreachable).",
                s.errors);
        counter("linkd_cache_invalidations_sent_total", "Changed slugs announced to every instance.",
                s.invalidations_sent);
        out.push_back({"linkd_cache_invalidations_pending",
                       "Changed slugs not announced yet (Redis down): retried.",
                       "gauge",
                       {{{}, static_cast<double>(s.invalidations_pending)}}});
        counter("linkd_cache_invalidations_dropped_total",
                "Changed slugs never announced (too many pending): other instances keep them until cache.ttl.",
                s.invalidations_dropped);
        counter("linkd_cache_invalidations_received_total", "Changed slugs dropped from memory on an announcement.",
                s.invalidations_received);
        counter("linkd_cache_resyncs_total", "Subscriptions (re)made, each dropping the whole memory cache.",
                s.resyncs);
        out.push_back({"linkd_cache_subscribed",
                       "1 while this instance hears the invalidation channel.",
                       "gauge",
                       {{{}, s.subscribed ? 1.0 : 0.0}}});
    });
}

// What linkd depends on: the Redis rate limiters and the database pools.
void Linkd::add_dependency_metrics(keel::metrics::Registry& registry) {
    registry.add_collector(keel::jobs::collector(*jobs_));  // webhook deliveries, the purge
    registry.add_collector([this](std::vector<keel::metrics::SampledFamily>& out) {
        if (redis_limiters_.empty()) {
            return;
        }
        std::uint64_t n = 0;
        for (const auto& l : redis_limiters_) {
            n += l->unavailable();
        }
        out.push_back({"linkd_ratelimit_redis_unavailable_total",
                       "Rate-limit checks answered without Redis (allowed when failing open, denied when closed).",
                       "counter",
                       {{{{"fail_open", options_.ratelimit_fail_open ? "true" : "false"}}, static_cast<double>(n)}}});
    });
    registry.add_collector(keel::db::pool_collector([this] {
        std::vector<std::pair<std::string, keel::db::PoolStats>> out;
        for (auto& p : repo_->pool_stats()) {
            out.emplace_back(p.name, p.stats);
        }
        return out;
    }));
}

void Linkd::add_health_checks(keel::observe::Health& health) {
    health.add_check("database", [this] { return repo_->ping(); });
    if (redis_) {
        // Optional: without Redis linkd still serves (memory, database, limits failing open).
        health.add_check(
            "redis",
            [this]() -> keel::Task<keel::Result<void>> {
                std::vector<std::string> ping{"PING"};
                auto r = co_await redis_->command(std::move(ping));
                if (!r) {
                    co_return std::move(r).error();
                }
                if (r->is_error()) {
                    co_return keel::Error::with_detail(keel::Errc::unavailable, "redis: " + r->str);
                }
                co_return keel::Result<void>{};
            },
            keel::observe::Health::Need::optional);
    }
}

void Linkd::add_vars(keel::observe::Vars& vars) {
    vars.add("pools", [this](keel::json::Writer& w) {
        w.begin_object();
        for (const NamedPoolStats& p : repo_->pool_stats()) {
            const keel::db::PoolStats& s = p.stats;
            // One key and its value per line:
            // clang-format off
            w.key(p.name)
                .begin_object()
                .key("max_open").value(static_cast<std::uint64_t>(s.max_open))
                .key("open").value(static_cast<std::uint64_t>(s.open))
                .key("in_use").value(static_cast<std::uint64_t>(s.in_use))
                .key("idle").value(static_cast<std::uint64_t>(s.idle))
                .key("wait_count").value(s.wait_count)
                .key("wait_duration_seconds").value(std::chrono::duration<double>(s.wait_duration).count())
                .key("max_idle_closed").value(s.max_idle_closed)
                .key("max_idle_time_closed").value(s.max_idle_time_closed)
                .key("max_lifetime_closed").value(s.max_lifetime_closed)
                .key("broken_closed").value(s.broken_closed)
                .key("connect_errors").value(s.connect_errors)
                .end_object();
            // clang-format on
        }
        w.end_object();
    });
    vars.add("linkd", [this](keel::json::Writer& w) {
        auto c = links_.cache_stats();
        // One key and its value per line:
        // clang-format off
        w.begin_object()
            .key("cache").begin_object()
            .key("hits").value(c.hits).key("misses").value(c.misses).key("entries").value(static_cast<std::uint64_t>(c.entries))
            .end_object()
            .key("clicks_pending").value(links_.clicks().pending_total())
            .end_object();
        // clang-format on
    });
}

}  // namespace linkd
