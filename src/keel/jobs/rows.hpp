#pragma once
// What both stores share: the migrations' own table, the checks on a NewJob, the statements
// both dialects say alike (written with SQLite's ?N; db::postgres_placeholders makes them $N),
// and rows read from the inspection queries before they become Counts and Failures.
#include <keel/core/describe.hpp>
#include <keel/db/placeholders.hpp>
#include <keel/jobs/store.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>

namespace keel::jobs {

// keel's jobs schema is versioned apart from the service's own migrations.
inline constexpr std::string_view kMigrationsTable = "keel_jobs_migrations";

// The statements (see each store for the schema and the ones only it has).
namespace sql {
inline constexpr std::string_view kJobColumns =
    "id, kind, queue, args, priority, attempt, max_attempts, run_at, created_at, trace_parent";
// ?1 kind, ?2 key, ?3 now
inline constexpr std::string_view kFindUnique =
    "SELECT id FROM keel_jobs WHERE kind = ?1 AND unique_key = ?2 AND (unique_until IS NULL OR unique_until > ?3) "
    "ORDER BY id LIMIT 1";
// ?1 kind, ?2 queue, ?3 args, ?4 priority, ?5 max_attempts, ?6 run_at, ?7 now, ?8 key, ?9 until, ?10 traceparent
inline constexpr std::string_view kInsertValues =
    "INSERT INTO keel_jobs (kind, queue, args, priority, max_attempts, run_at, created_at, unique_key, unique_until, "
    "trace_parent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id";
// ?1 queue, ?2 now, ?3 worker, ?4 lease_until, ?5 limit; then the dialect's locking, ") RETURNING " and the columns.
inline constexpr std::string_view kClaimHead =
    "UPDATE keel_jobs SET state = 'running', attempt = attempt + 1, leased_by = ?3, lease_until = ?4, "
    "attempted_at = ?2 WHERE id IN (SELECT id FROM keel_jobs WHERE queue = ?1 AND ((state = 'available' AND "
    "run_at <= ?2) OR (state = 'running' AND lease_until < ?2)) ORDER BY priority DESC, run_at, id LIMIT ?5";
// ?1 worker, ?2 lease_until; then the dialect's "id in the list ?3".
inline constexpr std::string_view kHeartbeatHead =
    "UPDATE keel_jobs SET lease_until = ?2 WHERE leased_by = ?1 AND state = 'running' AND ";
inline constexpr std::string_view kRelease =
    "UPDATE keel_jobs SET state = 'available', attempt = attempt - 1, leased_by = NULL, lease_until = NULL "
    "WHERE leased_by = ?1 AND state = 'running'";
// ?1 name, ?2 tick: a row back (RETURNING) or changed when this call moved the schedule on.
inline constexpr std::string_view kMoveSchedule =
    "INSERT INTO keel_job_schedules (name, last_tick) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET "
    "last_tick = excluded.last_tick WHERE keel_job_schedules.last_tick < excluded.last_tick RETURNING name";
inline constexpr std::string_view kLastTick = "SELECT last_tick FROM keel_job_schedules WHERE name = ?1";
inline constexpr std::string_view kCounts =
    "SELECT queue, state, count(*) AS jobs FROM keel_jobs GROUP BY queue, state ORDER BY queue";
inline constexpr std::string_view kFailures =
    "SELECT id, kind, queue, state, attempt, max_attempts, errored_at AS at, last_error AS error FROM keel_jobs "
    "WHERE last_error IS NOT NULL ORDER BY errored_at DESC, id DESC LIMIT ?1";
inline constexpr std::string_view kDiscard =
    "UPDATE keel_jobs SET state = 'discarded', finished_at = ?2 WHERE id = ?1 AND state = 'available'";
// ?1 completed/cancelled before, ?2 discarded before
inline constexpr std::string_view kPrune =
    "DELETE FROM keel_jobs WHERE finished_at IS NOT NULL AND ((state IN ('completed', 'cancelled') AND "
    "finished_at < ?1) OR (state = 'discarded' AND finished_at < ?2))";

/// "SELECT <job columns> FROM keel_jobs WHERE id = ?1".
inline std::string find_job() {
    return "SELECT " + std::string(kJobColumns) + " FROM keel_jobs WHERE id = ?1";
}

}  // namespace sql

inline UnixMillis to_millis(Duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

inline Result<void> check_new_job(const NewJob& job) {
    if (job.kind.empty()) {
        return Error(Errc::invalid_argument, "jobs: a job needs a kind");
    }
    if (job.queue.empty()) {
        return Error(Errc::invalid_argument, "jobs: a job needs a queue");
    }
    if (job.max_attempts < 1) {
        return Error(Errc::invalid_argument, "jobs: max_attempts must be at least 1");
    }
    return {};
}

// RETURNING gives rows in no particular order: run them by priority, then due time.
inline void sort_for_running(std::vector<Job>& jobs) {
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
        if (a.priority != b.priority) {
            return a.priority > b.priority;
        }
        return a.run_at != b.run_at ? a.run_at < b.run_at : a.id < b.id;
    });
}

struct CountRow {
    std::string queue;
    std::string state;
    std::int64_t jobs = 0;
};
KEEL_DESCRIBE(CountRow, queue, state, jobs)

struct FailureRow {
    std::int64_t id = 0;
    std::string kind;
    std::string queue;
    std::string state;
    int attempt = 0;
    int max_attempts = 0;
    std::int64_t at = 0;
    std::string error;
};
KEEL_DESCRIBE(FailureRow, id, kind, queue, state, attempt, max_attempts, at, error)

inline std::vector<Count> to_counts(const std::vector<CountRow>& rows) {
    std::vector<Count> out;
    for (const CountRow& r : rows) {
        out.push_back({.queue = r.queue, .state = parse_state(r.state).value_or(State::available), .jobs = r.jobs});
    }
    return out;
}

inline std::vector<Failure> to_failures(const std::vector<FailureRow>& rows) {
    std::vector<Failure> out;
    for (const FailureRow& r : rows) {
        out.push_back({.id = r.id,
                       .kind = r.kind,
                       .queue = r.queue,
                       .state = parse_state(r.state).value_or(State::available),
                       .attempt = r.attempt,
                       .max_attempts = r.max_attempts,
                       .at = r.at,
                       .error = r.error});
    }
    return out;
}

}  // namespace keel::jobs
