#pragma once
/// The jobs' operator surface: metrics for the registry, and the admin listener's handlers.
///
///     registry.add_collector(jobs::collector(runner));
///     admin.get("/debug/jobs", jobs::debug_page(store, &runner));
///     admin.post("/debug/jobs/{id}/retry", jobs::retry_action(store));
///     admin.post("/debug/jobs/{id}/discard", jobs::discard_action(store));
///
/// Metrics: keel_jobs{queue,state} (jobs in the store, as last counted), keel_jobs_running, and
/// counters of this process: keel_jobs_enqueued_total, keel_jobs_claimed_total, keel_jobs_completed_total,
/// keel_jobs_retried_total, keel_jobs_discarded_total, keel_jobs_cancelled_total,
/// keel_jobs_snoozed_total, keel_jobs_released_total, keel_jobs_wait_seconds_total (from run_at
/// to the claim, summed: divided by claimed, the mean wait) and keel_jobs_run_seconds_total.

#include <keel/core/collector.hpp>
#include <keel/http/handler.hpp>
#include <keel/jobs/runner.hpp>
#include <keel/jobs/store.hpp>

namespace keel::jobs {

metrics::Collector collector(const Runner& runner);

/// GET: {"worker", "runner": {counters}, "counts": [{queue, state, jobs}], "failures": [the
/// latest `failures` jobs with an error, newest first]}. `runner` may be null.
http::Handler debug_page(Store& store, const Runner* runner = nullptr, int failures = 20);
/// POST with path parameter {id}: the job runs again now (200), or 409 problem+json when it is
/// running or completed, 404 when there is no such job.
http::Handler retry_action(Store& store, WallClock clock = system_clock_millis);
/// POST with {id}: a waiting job is kept as discarded (200); 409 / 404 as above.
http::Handler discard_action(Store& store, WallClock clock = system_clock_millis);

}  // namespace keel::jobs
