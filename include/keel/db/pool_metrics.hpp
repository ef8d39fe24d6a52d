#pragma once
/// Connection-pool statistics as metrics, pushed into any registry as a collector (keel/core/
/// collector.hpp), so the pools' owner decides where they go and observe needs no database:
///
///     app.metrics().add_collector(db::pool_collector([&] { return repo.pool_stats(); }));
///
///   keel_db_pool_{max_open,open,in_use,idle}_connections{pool}        gauges (Go's sql.DBStats)
///   keel_db_pool_wait_total{pool}, keel_db_pool_wait_seconds_total{pool}
///   keel_db_pool_closed_total{pool,reason} (max_idle, max_idle_time, max_lifetime, broken)
///   keel_db_pool_connect_errors_total{pool}

#include <keel/core/collector.hpp>
#include <keel/db/pool.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace keel::db {

/// `stats` returns the pools by name at scrape time.
metrics::Collector pool_collector(std::function<std::vector<std::pair<std::string, PoolStats>>()> stats);

}  // namespace keel::db
