#include <keel/db/pool_metrics.hpp>

namespace keel::db {

using metrics::SampledFamily;

metrics::Collector pool_collector(std::function<std::vector<std::pair<std::string, PoolStats>>()> stats) {
    return [stats = std::move(stats)](std::vector<SampledFamily>& out) {
        SampledFamily max_open{"keel_db_pool_max_open_connections", "Most connections the pool may open.", "gauge", {}};
        SampledFamily open{
            "keel_db_pool_open_connections", "Connections open (in use, idle or connecting).", "gauge", {}};
        SampledFamily in_use{"keel_db_pool_in_use_connections", "Connections checked out.", "gauge", {}};
        SampledFamily idle{"keel_db_pool_idle_connections", "Connections idle in the pool.", "gauge", {}};
        SampledFamily waits{
            "keel_db_pool_wait_total", "Acquisitions that had to wait for a connection.", "counter", {}};
        SampledFamily waited{
            "keel_db_pool_wait_seconds_total", "Total time spent waiting for connections.", "counter", {}};
        SampledFamily closed{"keel_db_pool_closed_total", "Connections closed by the pool, by reason.", "counter", {}};
        SampledFamily errors{"keel_db_pool_connect_errors_total", "Failed attempts to connect.", "counter", {}};
        for (const auto& [name, s] : stats()) {
            std::vector<std::pair<std::string, std::string>> l{{"pool", name}};
            auto with_reason = [&](const char* reason) {
                auto r = l;
                r.emplace_back("reason", reason);
                return r;
            };
            max_open.samples.push_back({l, static_cast<double>(s.max_open)});
            open.samples.push_back({l, static_cast<double>(s.open)});
            in_use.samples.push_back({l, static_cast<double>(s.in_use)});
            idle.samples.push_back({l, static_cast<double>(s.idle)});
            waits.samples.push_back({l, static_cast<double>(s.wait_count)});
            waited.samples.push_back({l, std::chrono::duration<double>(s.wait_duration).count()});
            closed.samples.push_back({with_reason("max_idle"), static_cast<double>(s.max_idle_closed)});
            closed.samples.push_back({with_reason("max_idle_time"), static_cast<double>(s.max_idle_time_closed)});
            closed.samples.push_back({with_reason("max_lifetime"), static_cast<double>(s.max_lifetime_closed)});
            closed.samples.push_back({with_reason("broken"), static_cast<double>(s.broken_closed)});
            errors.samples.push_back({l, static_cast<double>(s.connect_errors)});
        }
        for (auto* f : {&max_open, &open, &in_use, &idle, &waits, &waited, &closed, &errors}) {
            out.push_back(std::move(*f));
        }
    };
}

}  // namespace keel::db
