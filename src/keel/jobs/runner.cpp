#include <keel/jobs/runner.hpp>

#include "rows.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <random>

namespace keel::jobs {

namespace {

double unit_random() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string default_worker_id() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) {
        host[0] = '\0';
    }
    std::mt19937_64 rng{std::random_device{}()};
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(rng() % 1'000'000'000);
}

// Resumes a coroutine suspended in shutdown() once `ready()` holds (checked by whoever changes it).
struct Park {
    std::coroutine_handle<>& slot;
    bool ready;
    bool await_ready() const noexcept { return ready; }
    void await_suspend(std::coroutine_handle<> h) noexcept { slot = h; }
    void await_resume() const noexcept {}
};

}  // namespace

Duration backoff(const RetryPolicy& policy, int attempt, double unit_random) noexcept {
    double base = std::chrono::duration<double>(policy.base).count();
    double max = std::chrono::duration<double>(policy.max).count();
    double delay = std::min(max, base * std::pow(2.0, std::max(0, attempt - 1)));
    double jittered = delay / 2 + delay / 2 * std::clamp(unit_random, 0.0, 1.0);
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(jittered));
}

struct Runner::Running {
    StopSource stop;
    TimerId timeout = 0;
};

Runner::Runner(Store& store, RunnerOptions options) : store_(store), options_(std::move(options)) {
    if (options_.worker_id.empty()) {
        options_.worker_id = default_worker_id();
    }
    for (const QueueOptions& q : options_.queues) {
        queues_.push_back(Queue{.options = q});
    }
}

Runner::~Runner() = default;

void Runner::handle_raw(std::string kind, Handler fn, KindOptions options) {
    kinds_[std::move(kind)] = Kind{std::move(fn), options};
}

void Runner::every(std::string name, Duration interval, NewJob job) {
    schedules_.push_back(Schedule{std::move(name), interval, std::nullopt, std::move(job)});
}

Result<void> Runner::cron(std::string name, std::string_view expression, NewJob job) {
    KEEL_TRY(parsed, Cron::parse(expression));
    schedules_.push_back(Schedule{std::move(name), Duration::zero(), std::move(parsed), std::move(job)});
    return {};
}

UnixMillis Runner::Schedule::latest_due(UnixMillis after, UnixMillis t) const {
    UnixMillis due = -1;
    for (UnixMillis x = next_after(after); x >= 0 && x <= t; x = next_after(x)) {
        due = x;
    }
    return due;
}

UnixMillis Runner::Schedule::next_after(UnixMillis t) const {
    if (cron) {
        return cron->next_after(t);
    }
    UnixMillis step = std::max<UnixMillis>(1, to_millis(interval));
    return (t / step + 1) * step;
}

RunnerStats Runner::stats() const noexcept {
    auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    // One key and its value per line:
    // clang-format off
    return {.fetches = get(counters_.fetches), .claimed = get(counters_.claimed), .completed = get(counters_.completed),
            .retried = get(counters_.retried), .discarded = get(counters_.discarded),
            .cancelled = get(counters_.cancelled), .snoozed = get(counters_.snoozed),
            .released = get(counters_.released), .running = get(counters_.running),
            .wait_ms = get(counters_.wait_ms), .run_ms = get(counters_.run_ms)};
    // clang-format on
}

void Runner::emit(Event::Kind kind, const Job* job, std::string_view message) {
    if (options_.on_event) {
        Event e{.kind = kind, .message = message};
        if (job != nullptr) {
            e.job_id = job->id;
            e.job_kind = job->kind;
            e.attempt = job->attempt;
            e.trace_parent = job->trace_parent;
        }
        options_.on_event(e);
    }
}

void Runner::start(Loop& loop) {
    loop.post([this, &loop] {
        loop_ = &loop;
        fetching_ = true;
        spawn_task(fetch_loop());
        Duration beat = options_.lease / 3;
        timers_.push_back(loop.run_every(beat, [this] {
            if (!running_.empty() && !heartbeat_in_flight_) {
                heartbeat_in_flight_ = true;
                spawn_task(heartbeat());
            }
        }));
        timers_.push_back(loop.run_every(std::chrono::minutes(1), [this] { spawn_task(prune()); }));
        spawn_task(refresh_counts());
        timers_.push_back(loop.run_every(options_.count_every, [this] { spawn_task(refresh_counts()); }));
        for (std::size_t i = 0; i < schedules_.size(); ++i) {
            spawn_task(catch_up(i));  // a tick missed while down runs now
        }
    });
}

void Runner::spawn_task(Task<void> task) {
    ++tasks_;
    keel::spawn(std::move(task), [this](std::exception_ptr) {
        if (--tasks_ == 0 && stopping_) {
            if (auto h = std::exchange(idle_waiter_, {})) {
                loop_->defer([h] { h.resume(); });  // once this coroutine's frame is gone
            }
        }
    });
}

Task<void> Runner::fetch_loop() {
    while (!stopping_) {
        bool maybe_more = false;
        counters_.fetches.fetch_add(1, std::memory_order_relaxed);
        for (Queue& q : queues_) {
            int free = q.options.concurrency - q.active;
            if (free <= 0 || stopping_) {
                continue;
            }
            UnixMillis t = now();
            auto claimed =
                co_await store_.claim(q.options.name, free, options_.worker_id, t, t + to_millis(options_.lease));
            if (!claimed) {
                emit(Event::Kind::store_error, nullptr, claimed.error().message());
                continue;  // the next poll tries again
            }
            counters_.claimed.fetch_add(claimed->size(), std::memory_order_relaxed);
            for (const Job& job : *claimed) {
                counters_.wait_ms.fetch_add(static_cast<std::uint64_t>(std::max<UnixMillis>(0, t - job.run_at)),
                                            std::memory_order_relaxed);
            }
            maybe_more = maybe_more || static_cast<int>(claimed->size()) == free;
            for (Job& job : *claimed) {
                start_job(q, std::move(job));
            }
        }
        if (!maybe_more && !stopping_) {
            co_await store_.wait_for_work(options_.poll);
        }
    }
    fetching_ = false;
}

void Runner::start_job(Queue& q, Job job) {
    ++q.active;
    counters_.running.fetch_add(1, std::memory_order_relaxed);
    auto r = std::make_unique<Running>();
    running_.emplace(job.id, std::move(r));
    spawn_task(run_job(q, std::move(job)));
}

Task<Finish> Runner::attempt(const Kind& kind, const Job& job, Running& r) {
    Finish f{.id = job.id, .attempt = job.attempt};
    Context ctx(job, r.stop.token());
    std::string error;
    bool timed_out = false;
    r.timeout = loop_->run_after(kind.options.timeout, [&r, &timed_out] {
        timed_out = true;
        r.stop.request_stop();
    });
    try {
        Result<void> done = co_await kind.fn(ctx);
        if (!done) {
            error = std::string(errc_name(done.error().code())) + ": " + std::string(done.error().message());
        }
    } catch (const std::exception& e) {
        error = std::string("exception: ") + e.what();
    } catch (...) {
        error = "exception";
    }
    loop_->cancel(r.timeout);
    if (timed_out) {
        ctx.snooze_.reset();  // whatever it answered once stopped, the attempt failed
        ctx.cancel_.reset();
        error = "timeout: the attempt ran past its " +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(kind.options.timeout).count()) +
                " ms" + (error.empty() ? std::string() : " (" + error + ")");
    }
    UnixMillis t = now();
    if (ctx.cancel_) {
        f.state = State::cancelled;
        f.error = "cancelled: " + *ctx.cancel_;
    } else if (ctx.snooze_ && error.empty()) {
        f.state = State::available;
        f.run_at = t + to_millis(*ctx.snooze_);
        f.counts_as_attempt = false;
    } else if (error.empty()) {
        f.state = State::completed;
    } else if (job.attempt < job.max_attempts) {
        f.state = State::available;
        f.run_at = t + to_millis(backoff(kind.options.retry, job.attempt, unit_random()));
        f.error = std::move(error);
    } else {
        f.state = State::discarded;
        f.error = std::move(error);
    }
    co_return f;
}

Task<void> Runner::run_job(Queue& q, Job job) {
    Running& r = *running_.at(job.id);
    Finish f{.id = job.id, .attempt = job.attempt};
    auto kind = kinds_.find(job.kind);
    if (job.attempt > job.max_attempts) {
        // Its last attempt's process died (the lease expired): nothing is left to try.
        f.state = State::discarded;
        f.error = "lease expired: the process running its last attempt stopped";
    } else if (kind == kinds_.end()) {
        // Perhaps a newer version of this service handles it: try again later.
        f.state = job.attempt < job.max_attempts ? State::available : State::discarded;
        f.run_at = now() + to_millis(backoff({}, job.attempt, unit_random()));
        f.error = "no handler for kind \"" + job.kind + "\"";
    } else {
        UnixMillis began = now();
        f = co_await attempt(kind->second, job, r);
        counters_.run_ms.fetch_add(static_cast<std::uint64_t>(std::max<UnixMillis>(0, now() - began)),
                                   std::memory_order_relaxed);
    }
    bool released = stopping_ && r.stop.stop_requested();
    if (!released) {
        auto stored = co_await store_.finish(options_.worker_id, f, now());
        if (!stored) {
            // The lease runs out and the job runs again elsewhere: at least once.
            emit(Event::Kind::store_error, &job, stored.error().message());
        }
        switch (f.state) {
            case State::completed:
                counters_.completed.fetch_add(1, std::memory_order_relaxed);
                break;
            case State::available:
                (f.counts_as_attempt ? counters_.retried : counters_.snoozed).fetch_add(1, std::memory_order_relaxed);
                if (f.counts_as_attempt) {
                    emit(Event::Kind::failed, &job, f.error);
                }
                break;
            case State::discarded:
                counters_.discarded.fetch_add(1, std::memory_order_relaxed);
                emit(Event::Kind::discarded, &job, f.error);
                break;
            case State::cancelled:
                counters_.cancelled.fetch_add(1, std::memory_order_relaxed);
                emit(Event::Kind::cancelled, &job, f.error);
                break;
            case State::running:
                break;
        }
    }
    bool was_full = q.active == q.options.concurrency;
    --q.active;
    counters_.running.fetch_sub(1, std::memory_order_relaxed);
    running_.erase(job.id);
    if (was_full && !stopping_) {
        store_.interrupt_wait();  // room again: claim the next one
    }
}

Task<void> Runner::heartbeat() {
    std::vector<std::int64_t> ids;
    ids.reserve(running_.size());
    for (const auto& [id, r] : running_) {
        ids.push_back(id);
    }
    auto done = co_await store_.heartbeat(options_.worker_id, std::move(ids), now() + to_millis(options_.lease));
    if (!done) {
        emit(Event::Kind::store_error, nullptr, done.error().message());
    }
    heartbeat_in_flight_ = false;
}

// The tick after `after` (the tick just enqueued): when enqueueing took longer than a tick (a
// slow database), the latest tick due now at once instead of skipping it.
void Runner::arm_schedule(std::size_t i, UnixMillis after) {
    if (stopping_) {
        return;
    }
    const Schedule& s = schedules_[i];
    UnixMillis t = now();
    UnixMillis due = s.latest_due(after, t);
    UnixMillis next = due >= 0 ? due : s.next_after(after);
    if (next < 0) {
        return;  // the expression names no more minutes
    }
    timers_.push_back(loop_->run_after(std::chrono::milliseconds(std::max<UnixMillis>(0, next - t)),
                                       [this, i, next] { spawn_task(tick(i, next)); }));
}

// At start: an interval's current tick (a tick missed while down), a cron's latest tick missed
// since the last one enqueued by any process.
Task<void> Runner::catch_up(std::size_t i) {
    const Schedule& s = schedules_[i];
    UnixMillis t = now();
    if (!s.cron) {
        UnixMillis step = std::max<UnixMillis>(1, to_millis(s.interval));
        co_await tick(i, t / step * step);
        co_return;
    }
    auto last = co_await store_.last_tick(s.name);
    if (!last) {
        emit(Event::Kind::store_error, nullptr, last.error().message());
    } else if (UnixMillis due = *last ? s.latest_due(**last, t) : -1; due >= 0) {
        co_await tick(i, due);
        co_return;
    }
    arm_schedule(i, t);
}

Task<void> Runner::tick(std::size_t i, UnixMillis tick) {
    const Schedule& s = schedules_[i];
    NewJob job = s.job;
    if (!job.unique_key) {
        job.unique_key = s.name + "@" + std::to_string(tick);
    }
    auto made = co_await store_.enqueue_tick(s.name, tick, std::move(job));
    if (!made) {
        emit(Event::Kind::store_error, nullptr, made.error().message());
    }
    arm_schedule(i, tick);
}

Task<void> Runner::refresh_counts() {
    auto counted = co_await store_.counts();
    if (counted) {
        std::lock_guard lock(counts_mu_);
        counts_ = std::move(*counted);
    }
}

std::vector<Count> Runner::counts() const {
    std::lock_guard lock(counts_mu_);
    return counts_;
}

Task<void> Runner::prune() {
    UnixMillis t = now();
    auto done =
        co_await store_.prune(t - to_millis(options_.completed_retention), t - to_millis(options_.discarded_retention));
    if (!done) {
        emit(Event::Kind::store_error, nullptr, done.error().message());
    }
}

Task<void> Runner::shutdown() {
    if (loop_ == nullptr) {
        co_return;  // never started
    }
    stopping_ = true;
    for (TimerId t : timers_) {
        loop_->cancel(t);
    }
    timers_.clear();
    store_.interrupt_wait();
    // Running jobs finish on their own within the shutdown timeout.
    bool timed_out = false;
    TimerId deadline = loop_->run_after(options_.shutdown_timeout, [this, &timed_out] {
        timed_out = true;
        if (auto h = std::exchange(idle_waiter_, {})) {
            h.resume();
        }
    });
    co_await Park{idle_waiter_, tasks_ == 0};
    loop_->cancel(deadline);
    if (!running_.empty()) {
        // The rest are told to stop and given back: another process runs them, this attempt not
        // counted (their own outcome, when they return, is not recorded).
        for (auto& [id, r] : running_) {
            r->stop.request_stop();
        }
        auto released = co_await store_.release(options_.worker_id);
        if (released) {
            counters_.released.fetch_add(static_cast<std::uint64_t>(*released), std::memory_order_relaxed);
            emit(Event::Kind::released, nullptr, std::to_string(*released) + " running jobs released at shutdown");
        } else {
            emit(Event::Kind::store_error, nullptr, released.error().message());
        }
    }
    // Handlers return once their stop token fires; the runner outlives them and every other
    // coroutine it started (a claim, a heartbeat, a count in flight).
    co_await Park{idle_waiter_, tasks_ == 0};
    (void)timed_out;
}

}  // namespace keel::jobs
