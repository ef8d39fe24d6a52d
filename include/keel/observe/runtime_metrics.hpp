#pragma once
/// Collectors for what keel itself runs: the process, the HTTP server's loops, the worker
/// pool. Sampled at scrape time (nothing is recorded on the request path).
///
///   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
///   process_open_fds, process_max_fds, process_threads, process_start_time_seconds
///   keel_connections_open{loop}, keel_connections_accepted_total{loop},
///   keel_connections_closed_total{loop}, keel_http_received_bytes_total{loop},
///   keel_http_sent_bytes_total{loop}, keel_loop_lag_seconds{loop}, keel_accept_fd_exhausted_total{loop}
///   keel_worker_pool_threads, keel_worker_pool_queue_depth, keel_worker_pool_queue_capacity,
///   keel_worker_pool_rejected_total, keel_worker_pool_completed_total
/// (Connection pools push their own: keel/db/pool_metrics.hpp.)

#include <keel/core/worker_pool.hpp>
#include <keel/observe/metrics.hpp>
#include <keel/server/server.hpp>

#include <functional>
#include <string>

namespace keel::observe {

void add_process_metrics(metrics::Registry& registry);
/// `server` is read at scrape time; return nullptr while there is none (before start).
void add_server_metrics(metrics::Registry& registry, std::function<const server::Server*()> server);
void add_worker_pool_metrics(metrics::Registry& registry, const WorkerPool& pool);

}  // namespace keel::observe
