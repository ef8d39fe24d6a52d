#pragma once
/// keel::jobs::Store: where jobs live, one interface over SQLite (sqlite_store.hpp) and
/// PostgreSQL (postgres_store.hpp). The Runner (runner.hpp) and the admin surface use it;
/// services enqueue through it (or, inside their own transaction, through the back-end's
/// enqueue(conn, …)). Every call is a coroutine awaited on a loop thread.
///
/// Ownership of a running job is (leased_by, attempt): finish() and heartbeat() change a job
/// only while the caller still holds it, so a process that lost its lease (it stalled, another
/// took the job over) cannot overwrite the newer run's outcome.

#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/jobs/job.hpp>

#include <atomic>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace keel::jobs {

/// How a run ended, as the store records it.
struct Finish {
    std::int64_t id = 0;
    int attempt = 0;
    State state = State::completed;  ///< completed, available (retry / snooze), discarded, cancelled
    UnixMillis run_at = 0;           ///< available: when to run again
    bool counts_as_attempt = true;   ///< false for a snooze: the attempt is given back
    std::string error = {};          ///< the attempt's error (empty: none), kept with the job
};

/// Jobs per queue and state.
struct Count {
    std::string queue;
    State state = State::available;
    std::int64_t jobs = 0;
};

/// A recorded failure: the job and its latest error.
struct Failure {
    std::int64_t id = 0;
    std::string kind;
    std::string queue;
    State state = State::available;
    int attempt = 0;
    int max_attempts = 0;
    UnixMillis at = 0;
    std::string error;
};

class Store {
  public:
    virtual ~Store() = default;

    /// Creates the jobs tables the database lacks (keel's migrations, in their own table
    /// `keel_jobs_migrations`, apart from the service's).
    virtual Task<Result<int>> migrate() = 0;

    /// Adds a job outside any transaction (its own). See NewJob::unique_key.
    virtual Task<Result<Enqueued>> enqueue(NewJob job) = 0;

    /// Up to `limit` due jobs of `queue` (and jobs whose lease expired), now running under a
    /// lease held by `worker` until `lease_until`, each with its attempt counted.
    virtual Task<Result<std::vector<Job>>> claim(std::string queue, int limit, std::string worker, UnixMillis now,
                                                 UnixMillis lease_until) = 0;
    /// Extends the lease of `jobs` while `worker` runs them (a job whose outcome could not be
    /// recorded is not among them, so its lease runs out and another run takes it).
    virtual Task<Result<void>> heartbeat(std::string worker, std::vector<std::int64_t> jobs,
                                         UnixMillis lease_until) = 0;
    /// Records a run's outcome; false when `worker` no longer held the job (nothing changed).
    virtual Task<Result<bool>> finish(std::string worker, Finish f, UnixMillis now) = 0;
    /// Gives back every job `worker` still runs (shutdown): available again at once, the
    /// attempt not counted. Returns how many.
    virtual Task<Result<int>> release(std::string worker) = 0;

    /// Periodic jobs: enqueues `job` for the tick at `tick` of schedule `name` unless that tick
    /// (or a later one) was enqueued already, by any process, in one transaction. True when
    /// this call enqueued it.
    virtual Task<Result<bool>> enqueue_tick(std::string name, UnixMillis tick, NewJob job) = 0;
    /// The last tick of `name` enqueued (nullopt: never).
    virtual Task<Result<std::optional<UnixMillis>>> last_tick(std::string name) = 0;

    // Inspection and operators' actions (GET /debug/jobs and its actions).
    virtual Task<Result<std::vector<Count>>> counts() = 0;
    /// The latest `limit` jobs with a recorded error, newest first.
    virtual Task<Result<std::vector<Failure>>> failures(int limit) = 0;
    virtual Task<Result<std::optional<Job>>> find(std::int64_t id) = 0;
    /// A discarded, cancelled or waiting job runs again now (with attempts to spare); false
    /// when it is running or completed, or does not exist.
    virtual Task<Result<bool>> retry(std::int64_t id, UnixMillis now) = 0;
    /// A waiting job (available) is kept as discarded; false when it runs or has ended.
    virtual Task<Result<bool>> discard(std::int64_t id, UnixMillis now) = 0;
    /// Deletes completed and cancelled jobs finished before `finished_before` and discarded ones
    /// before `discarded_before` (their unique keys are free again); how many went.
    virtual Task<Result<int>> prune(UnixMillis finished_before, UnixMillis discarded_before) = 0;

    /// Jobs this process added through this store (every enqueue, the transactional one and the
    /// schedules' included; one whose transaction then rolled back is counted too).
    std::uint64_t enqueued() const noexcept { return enqueued_.load(std::memory_order_relaxed); }

    /// Waits until a job may have become due (an enqueue anywhere, for PostgreSQL; in this
    /// process, for SQLite) or `timeout` passes. Runners on several loops may wait at once.
    virtual Task<void> wait_for_work(Duration timeout) = 0;
    /// Ends the current (or next) wait_for_work of this loop's runner (call on that loop).
    virtual void interrupt_wait() = 0;

  protected:
    void count_enqueued() noexcept { enqueued_.fetch_add(1, std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> enqueued_{0};
};

}  // namespace keel::jobs
