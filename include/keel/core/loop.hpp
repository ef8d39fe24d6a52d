#pragma once
/// keel::Loop: one event loop per thread, on epoll (edge-triggered readiness) or on io_uring
/// (completions; IoRing), two implementations of one back-end interface (src/keel/core/
/// loop_backend.hpp) chosen when the loop is made. Owns timers, deferred callbacks and a
/// cross-thread post queue (MPSC + eventfd). Everything a connection does happens on its loop's
/// thread, so the request path takes no lock.
///
/// Thread rules: post() and stop() may be called from any thread; everything else only from
/// the thread running run().

#include <keel/core/io_ring.hpp>
#include <keel/core/mpsc_queue.hpp>
#include <keel/core/result.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace keel {

class WorkerPool;
namespace detail {
class LoopBackend;
}

/// Receives readiness events for a file descriptor registered with Loop::watch.
class IoWatcher {
  public:
    virtual void on_io(std::uint32_t epoll_events) = 0;

  protected:
    ~IoWatcher() = default;
};

using Clock = std::chrono::steady_clock;
using Duration = Clock::duration;
using TimePoint = Clock::time_point;
using TimerId = std::uint64_t;

class Loop {
  public:
    /// `workers` is where keel::offload(fn) sends work from this loop (may be null). `backend`
    /// io_uring throws std::runtime_error when the kernel cannot provide it; such a loop runs
    /// on one thread only (the first that calls run()).
    explicit Loop(WorkerPool* workers = nullptr, IoBackend backend = IoBackend::epoll);
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    /// The loop running on this thread, or nullptr.
    static Loop* current() noexcept;

    /// Runs until stop(). Callbacks posted before stop() are run; timers are dropped.
    void run();
    /// Asks the loop to return from run() after the current iteration. Any thread.
    void stop() noexcept;
    /// True while a thread is inside run(). Any thread.
    bool running() const noexcept { return running_.load(std::memory_order_acquire); }

    /// Runs fn on the loop thread soon. Any thread; never blocks; allocates one node.
    void post(std::function<void()> fn);
    /// Runs fn after the current batch of events, on the loop thread.
    void defer(std::function<void()> fn);

    /// Timers (loop thread). A cancelled or fired timer id is never reused.
    TimerId run_after(Duration delay, std::function<void()> fn);
    TimerId run_at(TimePoint when, std::function<void()> fn);
    /// Runs fn every `period` until cancelled; re-arming allocates nothing.
    TimerId run_every(Duration period, std::function<void()> fn);
    /// Returns false when the timer already fired or was cancelled.
    bool cancel(TimerId id) noexcept;

    /// Registers fd (edge-triggered). The watcher must outlive the registration and, because
    /// events of the current batch may still name it, be destroyed through defer().
    Result<void> watch(int fd, std::uint32_t epoll_events, IoWatcher* watcher);
    /// Changes the events of a watched fd (still edge-triggered).
    Result<void> modify(int fd, std::uint32_t epoll_events, IoWatcher* watcher);
    void unwatch(int fd) noexcept;

    /// Time at the start of the current iteration (cheap; refreshed after every epoll_wait).
    TimePoint now() const noexcept { return now_; }
    WorkerPool* workers() const noexcept { return workers_; }
    /// The io_uring back-end's ring, for completion-based socket I/O; null on epoll.
    IoRing* ring() const noexcept { return ring_; }
    /// How late the most recent timer fired (loop lag), for metrics.
    Duration last_timer_lag() const noexcept { return last_lag_; }

  private:
    struct Posted : MpscNode {
        std::function<void()> fn;
    };
    struct TimerEntry {
        TimePoint when = {};
        TimerId id = {};
        bool operator>(const TimerEntry& o) const noexcept { return when > o.when || (when == o.when && id > o.id); }
    };
    // The eventfd's watcher: post() and stop() write to it.
    struct Wake final : IoWatcher {
        Loop* loop;
        explicit Wake(Loop* l) : loop(l) {}
        void on_io(std::uint32_t) override { loop->drain_posted(); }
    };
    void drain_posted();
    void run_deferred();
    void run_timers();
    int next_timeout_ms() const;

    std::unique_ptr<detail::LoopBackend> backend_;
    IoRing* ring_ = nullptr;  // backend_'s, on io_uring
    Wake wake_{this};
    int event_fd_ = -1;
    WorkerPool* workers_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> running_{false};
    std::atomic<bool> wake_pending_{false};
    MpscQueue<Posted> posted_;
    std::vector<std::function<void()>> deferred_;
    std::vector<std::function<void()>> running_deferred_;
    std::vector<TimerEntry> timer_heap_;
    struct TimerRecord {
        std::function<void()> fn;
        Duration period{};  // zero for one-shot timers
    };
    std::unordered_map<TimerId, TimerRecord> timers_;
    TimerId firing_ = 0;             // the periodic timer whose callback is running
    bool firing_cancelled_ = false;  // ... and it cancelled itself
    TimerId next_timer_id_ = 1;
    TimePoint now_;
    Duration last_lag_{};
};

}  // namespace keel
