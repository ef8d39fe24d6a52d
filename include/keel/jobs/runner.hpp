#pragma once
/// keel::jobs::Runner: runs the jobs of its queues on one Loop. Handlers are registered per
/// kind and are coroutines on that loop (blocking work goes through keel::offload as anywhere
/// else); each running job holds a lease the runner's heartbeats extend, so another process
/// takes it over only once this one stops heartbeating (it died, or lost the database).
///
///     jobs::Runner runner(store, {.queues = {{.name = "default", .concurrency = 8}}});
///     runner.handle<SendMail>("mail.send", [&](jobs::Context& ctx, SendMail m) -> Task<Result<void>> {
///         co_return co_await mailer.send(m, ctx.job().id);  // the id dedupes a second delivery
///     });
///     runner.every("links.purge", std::chrono::hours(1), jobs::NewJob{.kind = "links.purge"});
///     runner.start(background.loop());
///     // ... serve until SIGTERM ...
///     background.block_on([&] { return runner.shutdown(); });
///
/// An attempt that fails (an error, an exception, its timeout) runs again after an exponential
/// back-off with jitter (RetryPolicy), until the job's max_attempts; then it is kept as
/// discarded. A handler may instead snooze its job (run later, the attempt not counted) or
/// cancel it. shutdown() stops claiming, lets running jobs finish within shutdown_timeout, then
/// fires the stop token of the rest and releases them to other processes (not a failed attempt).

#include <keel/core/loop.hpp>
#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>
#include <keel/jobs/cron.hpp>
#include <keel/jobs/store.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace keel::jobs {

struct RetryPolicy {
    Duration base = std::chrono::seconds(1);  ///< the first retry's delay (before jitter)
    Duration max = std::chrono::hours(1);     ///< no retry waits longer
};

/// The wait before the retry that follows failed attempt `attempt` (1-based): base·2^(attempt−1)
/// capped at max, of which the upper half is spread by `unit_random` ∈ [0, 1) (jitter, so jobs
/// that failed together do not all come back together).
Duration backoff(const RetryPolicy& policy, int attempt, double unit_random) noexcept;

struct KindOptions {
    Duration timeout = std::chrono::minutes(1);  ///< per attempt: then the stop token fires and it fails
    RetryPolicy retry = {};
};

/// What a handler gets: its job, the stop token (timeout, shutdown), and its alternatives to
/// succeeding or failing.
class Context {
  public:
    Context(const Job& job, StopToken stop) : job_(job), stop_(stop) {}
    const Job& job() const noexcept { return job_; }
    StopToken stop_token() const noexcept { return stop_; }

    /// `co_return ctx.snooze(d);` runs the job again after `d`, the attempt not counted.
    Result<void> snooze(Duration d) {
        snooze_ = d;
        return {};
    }
    /// `co_return ctx.cancel("why");` ends the job as cancelled (no retry).
    Result<void> cancel(std::string reason) {
        cancel_ = std::move(reason);
        return {};
    }

  private:
    friend class Runner;
    const Job& job_;
    StopToken stop_;
    std::optional<Duration> snooze_;
    std::optional<std::string> cancel_;
};

using Handler = std::function<Task<Result<void>>(Context&)>;

struct QueueOptions {
    std::string name = "default";
    int concurrency = 10;  ///< jobs of this queue running at once in this process
};

/// What the runner tells its operator (RunnerOptions::on_event): a job's failure, a discard,
/// a store error. `job_id` 0 when it concerns no job.
struct Event {
    enum class Kind : std::uint8_t { failed, discarded, cancelled, store_error, released } kind;
    std::int64_t job_id = 0;
    std::string_view job_kind = {};
    int attempt = 0;
    std::string_view message = {};
    std::string_view trace_parent = {};
};

struct RunnerOptions {
    std::vector<QueueOptions> queues = {QueueOptions{}};
    Duration lease = std::chrono::seconds(30);  ///< heartbeats every third of it
    Duration poll = std::chrono::seconds(1);    ///< the safety net beside the store's wake-ups
    Duration shutdown_timeout = std::chrono::seconds(10);
    Duration completed_retention = std::chrono::hours(24);  ///< then completed/cancelled jobs are pruned
    Duration discarded_retention = std::chrono::hours(24 * 7);
    std::string worker_id = {};  ///< default: host, pid and a random part (unique per process)
    WallClock clock = system_clock_millis;
    std::function<void(const Event&)> on_event = {};
    Duration count_every = std::chrono::seconds(5);  ///< how fresh counts() is
};

struct RunnerStats {
    std::uint64_t fetches = 0;  ///< claim rounds (each asks every queue with room)
    std::uint64_t claimed = 0, completed = 0, retried = 0, discarded = 0, cancelled = 0, snoozed = 0, released = 0;
    std::uint64_t running = 0;
    std::uint64_t wait_ms = 0;  ///< summed over claimed jobs: from run_at to the claim
    std::uint64_t run_ms = 0;   ///< summed over ended runs: the handler's time
};

class Runner {
  public:
    explicit Runner(Store& store, RunnerOptions options = {});
    /// Call shutdown() first when started.
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    /// `fn(Context&, Args) -> Task<Result<void>>` runs jobs of `kind`, their arguments read into
    /// Args (a KEEL_JSON type); arguments that do not fit cancel the job (they never will).
    template <class Args, class F>
    void handle(std::string kind, F fn, KindOptions options = {}) {
        handle_raw(
            std::move(kind), [fn = std::move(fn)](Context& ctx) -> Task<Result<void>> { return typed<Args>(fn, ctx); },
            options);
    }
    /// `fn(Context&)`: the arguments as JSON text (ctx.job().args).
    void handle_raw(std::string kind, Handler fn, KindOptions options = {});

    /// Enqueues `job` once per `interval` across every process on the store (ticks are
    /// multiples of interval since the epoch; a tick missed while no process ran is enqueued
    /// at the next start).
    void every(std::string name, Duration interval, NewJob job);
    /// Enqueues `job` at each minute `expression` names (keel/jobs/cron.hpp, UTC), once across
    /// every process. A tick missed while no process ran is enqueued at the next start (the
    /// latest, however many were missed); a schedule that never ran waits for its first tick.
    /// invalid_argument when the expression is not one.
    Result<void> cron(std::string name, std::string_view expression, NewJob job);

    /// Starts on `loop`; call from any thread, before shutdown.
    void start(Loop& loop);
    /// On the runner's loop (LoopThread::block_on): see the file comment.
    Task<void> shutdown();

    const std::string& worker_id() const noexcept { return options_.worker_id; }
    const Store& store() const noexcept { return store_; }
    RunnerStats stats() const noexcept;
    /// The jobs per queue and state as last counted (every RunnerOptions::count_every).
    std::vector<Count> counts() const;

  private:
    struct Kind {
        Handler fn;
        KindOptions options;
    };
    struct Queue {
        QueueOptions options;
        int active = 0;
    };
    struct Schedule {
        std::string name;
        Duration interval;         // every(): ticks are its multiples since the epoch
        std::optional<Cron> cron;  // cron(): ticks are the minutes it names
        NewJob job;
        UnixMillis next_after(UnixMillis t) const;
        /// The latest tick after `after` and not after `t`; -1 when none is due.
        UnixMillis latest_due(UnixMillis after, UnixMillis t) const;
    };
    struct Running;

    template <class Args, class F>
    static Task<Result<void>> typed(F& fn, Context& ctx) {
        auto args = ctx.job().template args_as<Args>();
        if (!args) {
            co_return ctx.cancel(std::string(args.error().message()));
        }
        co_return co_await fn(ctx, std::move(*args));
    }

    Task<void> fetch_loop();
    void start_job(Queue& q, Job job);
    Task<void> run_job(Queue& q, Job job);
    Task<Finish> attempt(const Kind& kind, const Job& job, Running& r);
    Task<void> heartbeat();
    Task<void> tick(std::size_t schedule, UnixMillis at);
    Task<void> catch_up(std::size_t schedule);
    void arm_schedule(std::size_t schedule, UnixMillis after);
    Task<void> prune();
    void emit(Event::Kind kind, const Job* job, std::string_view message);
    UnixMillis now() const { return options_.clock(); }

    Store& store_;
    RunnerOptions options_;
    std::unordered_map<std::string, Kind> kinds_;
    std::vector<Queue> queues_;
    std::vector<Schedule> schedules_;
    Loop* loop_ = nullptr;
    // Loop thread only:
    std::unordered_map<std::int64_t, std::unique_ptr<Running>> running_;
    bool stopping_ = false;
    bool fetching_ = false;
    bool heartbeat_in_flight_ = false;
    int tasks_ = 0;  // coroutines started and not ended (jobs, the fetcher, heartbeats, ...)
    void spawn_task(Task<void> task);
    std::vector<TimerId> timers_;
    std::coroutine_handle<> idle_waiter_;  // shutdown() waiting for tasks_ to reach 0
    struct Counters {
        std::atomic<std::uint64_t> fetches{0}, claimed{0}, completed{0}, retried{0}, discarded{0}, cancelled{0},
            snoozed{0}, released{0}, running{0}, wait_ms{0}, run_ms{0};
    } counters_;
    // The store's counts per queue and state, refreshed by the loop (RunnerOptions::count_every)
    // for scrapes, which must not wait on the database.
    mutable std::mutex counts_mu_;
    std::vector<Count> counts_;
    Task<void> refresh_counts();
};

}  // namespace keel::jobs
