#pragma once
// What a Loop waits on. epoll (readiness) and io_uring (completions) are two implementations of
// this one interface, so Loop::run() is one loop: run the deferred callbacks, wait, read the
// clock, dispatch, run the timers. Loop thread only (made on any thread, like the Loop).

#include <keel/core/result.hpp>

#include <cstdint>
#include <memory>

namespace keel {

class IoRing;
class IoWatcher;

namespace detail {

class LoopBackend {
  public:
    virtual ~LoopBackend() = default;

    /// Edge-triggered readiness of `fd` for `watcher` (epoll events; EPOLLET is implied).
    virtual Result<void> watch(int fd, std::uint32_t events, IoWatcher* watcher) = 0;
    virtual Result<void> modify(int fd, std::uint32_t events, IoWatcher* watcher) = 0;
    virtual void unwatch(int fd) noexcept = 0;

    /// The thread that will wait and dispatch is this one (called once, by Loop::run).
    virtual void start_on_this_thread() {}
    /// Submits what the last iteration queued and waits up to `timeout_ms` (-1: no limit; 0:
    /// not at all) for something to dispatch. False: the back-end failed for good.
    virtual bool wait(int timeout_ms) = 0;
    /// Hands what the last wait brought to its watchers (or completions): how many there were.
    virtual int dispatch() = 0;
    /// After the loop stopped: submits what is still queued and dispatches what completes at
    /// once (io_uring: the cancels of connections closed just now, so their sockets are released
    /// now, not when the loop dies). How many there were; epoll queues nothing.
    virtual int finish() { return 0; }

    /// The completion side for sockets that opt in (io_uring only; null on epoll).
    virtual IoRing* ring() noexcept { return nullptr; }
};

/// Throws std::runtime_error when epoll cannot be made (out of descriptors).
std::unique_ptr<LoopBackend> make_epoll_backend();
/// Throws std::runtime_error when io_uring or a feature keel needs is unavailable.
std::unique_ptr<LoopBackend> make_io_uring_backend();

}  // namespace detail
}  // namespace keel
