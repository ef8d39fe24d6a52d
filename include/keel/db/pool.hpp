#pragma once
/// keel::db::Pool<Conn>: a connection pool shaped like Go's database/sql pool.
///
///     db::Pool<pg::Conn> pool(options, connect, ping);
///     auto lease = co_await pool.acquire(req.stop_token());   // Result<Pool::Lease>
///     if (!lease) co_return lease.error();                     // Errc::timeout: the pool stayed full
///     auto rows = co_await (*lease)->query("SELECT title FROM todos WHERE id = $1", id);
///
/// - At most `max_open` connections exist; a caller that finds none free waits (coroutine
///   suspended, no thread blocked) up to `acquire_timeout`, then gets Errc::timeout.
/// - At most `max_idle` wait in the pool; connections older than `max_lifetime` or idle longer
///   than `max_idle_time` are closed instead of reused.
/// - A connection idle for longer than `check_after_idle` is health-checked (ping) on checkout.
/// - A connection that reports `broken()` when returned (or is discard()ed) is closed, never
///   reused; its slot goes to the next waiter.
/// - When connecting fails, the pool backs off (doubling from `reconnect_min` to
///   `reconnect_max`): callers that would need a new connection meanwhile get Errc::unavailable
///   at once with the last connect error, instead of hammering a server that is down.
///
/// Thread rules: acquire() is awaited on a loop thread (any loop); a Lease may be released on
/// any thread (e.g. after offloaded work). Waiters resume on their own loop.
///
/// Conn must provide `bool broken() const noexcept`.

#include <keel/core/assert.hpp>
#include <keel/core/loop.hpp>
#include <keel/core/result.hpp>
#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace keel::db {

using namespace std::chrono_literals;

struct PoolOptions {
    std::size_t max_open = 10;                  ///< >= 1
    std::size_t max_idle = 2;                   ///< <= max_open
    Duration max_lifetime = Duration::zero();   ///< zero: no limit
    Duration max_idle_time = Duration::zero();  ///< zero: no limit
    Duration acquire_timeout = 5s;
    Duration check_after_idle = 1s;  ///< ping on checkout after this much idle time
    Duration reconnect_min = 100ms;
    Duration reconnect_max = 5s;
    /// What the pool calls now for a connection's age and idle time (max_lifetime,
    /// max_idle_time, check_after_idle) and for the reconnect back-off: tests pass a clock they
    /// move by hand. acquire_timeout and the wait statistics stay on the loop's real time.
    TimePoint (*clock)() = [] { return Clock::now(); };
};

/// The fields of Go's sql.DBStats, plus what the back-off adds.
struct PoolStats {
    std::size_t max_open = 0;
    std::size_t open = 0;  ///< established + being established
    std::size_t in_use = 0;
    std::size_t idle = 0;
    std::uint64_t wait_count = 0;  ///< acquisitions that had to wait
    Duration wait_duration{};      ///< total time spent waiting
    std::uint64_t max_idle_closed = 0;
    std::uint64_t max_idle_time_closed = 0;
    std::uint64_t max_lifetime_closed = 0;
    std::uint64_t broken_closed = 0;  ///< closed because they failed
    std::uint64_t connect_errors = 0;
};

namespace errors {
inline const Error kPoolClosed{Errc::closed, "database pool is closed"};
inline const Error kAcquireTimeout{Errc::timeout, "timed out waiting for a database connection"};
}  // namespace errors

template <class Conn>
class Pool {
  public:
    using ConnectFn = std::function<Task<Result<std::unique_ptr<Conn>>>()>;
    using PingFn = std::function<Task<bool>(Conn&)>;

    /// A checked-out connection; returns it to the pool when destroyed.
    class Lease {
      public:
        Lease() = default;
        Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), slot_(std::move(o.slot_)) {}
        Lease& operator=(Lease&& o) noexcept {
            if (this != &o) {
                release();
                pool_ = std::exchange(o.pool_, nullptr);
                slot_ = std::move(o.slot_);
            }
            return *this;
        }
        ~Lease() { release(); }

        Conn& operator*() const noexcept { return *slot_.conn; }
        Conn* operator->() const noexcept { return slot_.conn.get(); }

        /// Closes the connection instead of returning it (after an error that leaves it in an
        /// unknown state).
        void discard() noexcept { discard_ = true; }

      private:
        friend class Pool;
        struct Slot {
            std::unique_ptr<Conn> conn = {};
            TimePoint created{};
            TimePoint idle_since{};
        };
        Lease(Pool* pool, Slot slot) : pool_(pool), slot_(std::move(slot)) {}
        void release() noexcept {
            if (pool_ && slot_.conn) {
                pool_->put_back(std::move(slot_), discard_);
            }
            pool_ = nullptr;
        }
        Pool* pool_ = nullptr;
        Slot slot_;
        bool discard_ = false;
    };

    /// `ping` may be empty (no health check).
    Pool(PoolOptions options, ConnectFn connect, PingFn ping = {})
        : options_(options), connect_(std::move(connect)), ping_(std::move(ping)) {
        KEEL_INVARIANT(options_.max_open >= 1);
        options_.max_idle = std::min(options_.max_idle, options_.max_open);
    }

    /// Every lease must have been returned.
    ~Pool() { close(); }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    const PoolOptions& options() const noexcept { return options_; }

    /// A connection, or Errc::timeout (none freed in time), Errc::unavailable (cannot
    /// connect; the error carries the driver's message), Errc::cancelled, Errc::closed.
    Task<Result<Lease>> acquire(StopToken stop = {}) {
        const TimePoint deadline = Clock::now() + options_.acquire_timeout;
        for (;;) {
            Decision d = decide();
            for (auto& s : d.expired) {
                s.conn.reset();  // close outside the lock
            }
            switch (d.kind) {
                case Decision::closed:
                    co_return errors::kPoolClosed;
                case Decision::backing_off:
                    co_return Error::with_detail(Errc::unavailable, "database unavailable: " + d.last_error);
                case Decision::reuse: {
                    if (ping_ && now() - d.slot.idle_since >= options_.check_after_idle) {
                        bool ok = false;
                        try {
                            ok = co_await ping_(*d.slot.conn);
                        } catch (const std::exception&) {
                            ok = false;
                        }
                        if (!ok || d.slot.conn->broken()) {
                            put_back(std::move(d.slot), true);
                            continue;
                        }
                    }
                    co_return Lease(this, std::move(d.slot));
                }
                case Decision::connect: {
                    Result<std::unique_ptr<Conn>> c = Error(Errc::internal, "");
                    try {
                        c = co_await connect_();
                    } catch (const std::exception& e) {
                        c = Error::with_detail(Errc::unavailable, e.what());
                    }
                    if (!c) {
                        connect_failed(std::string(c.error().message()));
                        co_return Error::with_detail(Errc::unavailable,
                                                     "database unavailable: " + std::string(c.error().message()));
                    }
                    connect_succeeded();
                    TimePoint born = now();
                    co_return Lease(this, typename Lease::Slot{std::move(*c), born, born});
                }
                case Decision::wait: {
                    Waiter& w = *d.waiter;
                    co_await WaitAwaiter{this, &w, deadline, stop};
                    record_wait(Clock::now() - w.enqueued);
                    if (w.slot.conn) {
                        co_return Lease(this, std::move(w.slot));
                    }
                    if (w.outcome == Waiter::timed_out) {
                        co_return errors::kAcquireTimeout;
                    }
                    if (w.outcome == Waiter::cancelled) {
                        co_return keel::errors::kCancelled;
                    }
                    if (w.outcome == Waiter::pool_closed) {
                        co_return errors::kPoolClosed;
                    }
                    continue;  // a slot freed up: decide again
                }
            }
        }
    }

    /// Closes idle connections and fails current and future acquisitions. Leases still out
    /// are closed when returned.
    void close() {
        std::vector<typename Lease::Slot> idle;
        std::vector<Waiter*> wake;
        {
            std::lock_guard lock(mu_);
            closed_ = true;
            while (!idle_.empty()) {
                idle.push_back(std::move(idle_.back()));
                idle_.pop_back();
                --open_;
            }
            while (Waiter* w = pop_waiter(Waiter::pool_closed)) {
                wake.push_back(w);
            }
        }
        for (Waiter* w : wake) {
            w->loop->post([w] { w->resume(); });
        }
    }

    PoolStats stats() const {
        std::lock_guard lock(mu_);
        PoolStats s = stats_;
        s.max_open = options_.max_open;
        s.open = open_;
        s.idle = idle_.size();
        s.in_use = open_ - idle_.size() - connecting_;
        return s;
    }

  private:
    struct Waiter {
        enum Outcome { pending, retry, timed_out, cancelled, pool_closed };
        Loop* loop = nullptr;
        std::coroutine_handle<> h = {};
        TimePoint enqueued{};
        typename Lease::Slot slot = {};
        Outcome outcome = pending;
        TimerId timer = 0;
        bool armed = false;  ///< suspended; a grant must post its resumption (under mu_)
        std::optional<StopCallback> on_stop = {};
        void resume() {
            if (timer) {
                loop->cancel(timer);
            }
            on_stop.reset();
            h.resume();
        }
    };

    struct Decision {
        enum Kind { reuse, connect, wait, backing_off, closed } kind = wait;
        typename Lease::Slot slot = {};
        std::unique_ptr<Waiter> waiter = {};
        std::vector<typename Lease::Slot> expired = {};
        std::string last_error = {};
    };

    struct WaitAwaiter {
        Pool* pool = {};
        Waiter* w = {};
        TimePoint deadline = {};
        StopToken stop = {};
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            w->h = h;
            w->loop = Loop::current();
            KEEL_INVARIANT(w->loop != nullptr);
            {
                std::lock_guard lock(pool->mu_);
                if (w->outcome != Waiter::pending || w->slot.conn) {
                    return false;  // granted before we suspended
                }
                w->armed = true;
            }
            w->timer = w->loop->run_at(deadline, [p = pool, w = w] { p->expire_wait(w, Waiter::timed_out); });
            if (stop.stop_possible()) {
                w->on_stop.emplace(
                    stop, [p = pool, w = w] { w->loop->defer([p, w] { p->expire_wait(w, Waiter::cancelled); }); });
            }
            return true;
        }
        void await_resume() const noexcept {}
    };

    bool expired(const typename Lease::Slot& s, TimePoint now) {
        if (options_.max_lifetime > Duration::zero() && now - s.created >= options_.max_lifetime) {
            ++stats_.max_lifetime_closed;
            return true;
        }
        if (options_.max_idle_time > Duration::zero() && now - s.idle_since >= options_.max_idle_time) {
            ++stats_.max_idle_time_closed;
            return true;
        }
        return false;
    }

    TimePoint now() const { return options_.clock != nullptr ? options_.clock() : Clock::now(); }

    Decision decide() {
        Decision d;
        TimePoint now = this->now();
        std::lock_guard lock(mu_);
        if (closed_) {
            d.kind = Decision::closed;
            return d;
        }
        while (!idle_.empty()) {
            typename Lease::Slot s = std::move(idle_.back());  // most recently used first
            idle_.pop_back();
            if (expired(s, now)) {
                --open_;
                d.expired.push_back(std::move(s));
                continue;
            }
            d.kind = Decision::reuse;
            d.slot = std::move(s);
            return d;
        }
        if (open_ < options_.max_open) {
            if (now < retry_at_) {
                d.kind = Decision::backing_off;
                d.last_error = last_error_;
                return d;
            }
            ++open_;
            ++connecting_;
            d.kind = Decision::connect;
            return d;
        }
        d.kind = Decision::wait;
        d.waiter = std::make_unique<Waiter>();
        d.waiter->enqueued = Clock::now();
        waiters_.push_back(d.waiter.get());
        ++stats_.wait_count;
        return d;
    }

    void connect_failed(std::string message) {
        Waiter* w = nullptr;
        {
            std::lock_guard lock(mu_);
            --open_;
            --connecting_;
            ++stats_.connect_errors;
            backoff_ =
                backoff_ == Duration::zero() ? options_.reconnect_min : std::min(backoff_ * 2, options_.reconnect_max);
            retry_at_ = now() + backoff_;
            last_error_ = std::move(message);
            w = pop_waiter(Waiter::retry);
        }
        wake(w);
    }

    void connect_succeeded() {
        std::lock_guard lock(mu_);
        --connecting_;
        backoff_ = Duration::zero();
        retry_at_ = TimePoint{};
    }

    void put_back(typename Lease::Slot slot, bool discard) noexcept {
        Waiter* w = nullptr;
        TimePoint now = this->now();
        slot.idle_since = now;
        {
            std::lock_guard lock(mu_);
            bool bad = discard || slot.conn->broken();
            if (bad) {
                ++stats_.broken_closed;
            }
            if (!bad && !closed_ && !expired(slot, now)) {
                if (!waiters_.empty()) {
                    Waiter* first = waiters_.front();
                    waiters_.pop_front();
                    first->slot = std::move(slot);  // hand over directly: first come, first served
                    w = first->armed ? first : nullptr;
                } else if (idle_.size() < options_.max_idle) {
                    idle_.push_back(std::move(slot));
                } else {
                    ++stats_.max_idle_closed;
                }
            }
            if (slot.conn) {
                --open_;  // closing it: its slot may let a waiter connect
                if (w == nullptr) {
                    w = pop_waiter(Waiter::retry);
                }
            }
        }
        slot.conn.reset();
        wake(w);
    }

    // Under mu_. Takes the oldest waiter and gives it `outcome`. Returns it when it is
    // suspended (the caller must post its resumption); a waiter not suspended yet sees the
    // outcome in await_suspend and carries on without suspending, so nullptr is returned.
    // Either way the waiter may not be touched after the lock is released unless returned.
    Waiter* pop_waiter(typename Waiter::Outcome outcome) {
        while (!waiters_.empty()) {
            Waiter* w = waiters_.front();
            waiters_.pop_front();
            w->outcome = outcome;
            if (w->armed) {
                return w;
            }
            if (outcome == Waiter::retry) {
                return nullptr;  // one retry is enough: that waiter will decide again
            }
        }
        return nullptr;
    }

    static void wake(Waiter* w) {
        if (w != nullptr) {
            w->loop->post([w] { w->resume(); });
        }
    }

    // On the waiter's loop: its deadline passed or its stop token fired.
    void expire_wait(Waiter* w, typename Waiter::Outcome outcome) {
        {
            std::lock_guard lock(mu_);
            auto it = std::find(waiters_.begin(), waiters_.end(), w);
            if (it == waiters_.end()) {
                return;  // already granted: the grant's post resumes it
            }
            waiters_.erase(it);
            w->outcome = outcome;
        }
        if (outcome == Waiter::timed_out) {
            w->timer = 0;  // fired
        }
        w->resume();
    }

    void record_wait(Duration waited) {
        std::lock_guard lock(mu_);
        stats_.wait_duration += waited;
    }

    PoolOptions options_;
    ConnectFn connect_;
    PingFn ping_;
    mutable std::mutex mu_;
    std::vector<typename Lease::Slot> idle_;
    std::deque<Waiter*> waiters_;
    std::size_t open_ = 0;
    std::size_t connecting_ = 0;
    bool closed_ = false;
    PoolStats stats_;
    Duration backoff_{};
    TimePoint retry_at_{};
    std::string last_error_;
};

}  // namespace keel::db
