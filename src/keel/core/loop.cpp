#include <keel/core/loop.hpp>

#include "loop_backend.hpp"
#include "wake_flag.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace keel {
namespace {
thread_local Loop* t_current = nullptr;
}  // namespace

Loop::Loop(WorkerPool* workers, IoBackend backend) : workers_(workers), now_(Clock::now()) {
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0) {
        throw std::runtime_error(std::string("keel: cannot create event loop: ") + std::strerror(errno));
    }
    try {
        backend_ = backend == IoBackend::io_uring ? detail::make_io_uring_backend() : detail::make_epoll_backend();
    } catch (...) {
        ::close(event_fd_);
        throw;
    }
    ring_ = backend_->ring();
    if (auto r = backend_->watch(event_fd_, EPOLLIN, &wake_); !r) {
        ::close(event_fd_);
        throw std::runtime_error("keel: cannot create event loop: " + std::string(r.error().message()));
    }
}

Loop::~Loop() {
    while (Posted* p = posted_.pop()) {
        delete p;
    }
    backend_.reset();
    ::close(event_fd_);
}

Loop* Loop::current() noexcept {
    return t_current;
}

void Loop::stop() noexcept {
    stop_.store(true, std::memory_order_release);
    if (detail::raise_wake(wake_pending_)) {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
    }
}

void Loop::post(std::function<void()> fn) {
    auto* node = new Posted;
    node->fn = std::move(fn);
    posted_.push(node);
    // Only the first post after a drain pays for the syscall.
    if (detail::raise_wake(wake_pending_)) {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
    }
}

void Loop::defer(std::function<void()> fn) {
    deferred_.push_back(std::move(fn));
}

TimerId Loop::run_after(Duration delay, std::function<void()> fn) {
    return run_at(Clock::now() + delay, std::move(fn));
}

TimerId Loop::run_at(TimePoint when, std::function<void()> fn) {
    TimerId id = next_timer_id_++;
    timers_.emplace(id, TimerRecord{std::move(fn), Duration::zero()});
    timer_heap_.push_back({when, id});
    std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
    return id;
}

TimerId Loop::run_every(Duration period, std::function<void()> fn) {
    TimerId id = next_timer_id_++;
    timers_.emplace(id, TimerRecord{std::move(fn), period});
    timer_heap_.push_back({Clock::now() + period, id});
    std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
    return id;
}

bool Loop::cancel(TimerId id) noexcept {
    if (id != 0 && id == firing_) {
        bool was = !firing_cancelled_;
        firing_cancelled_ = true;  // erased once its callback returns
        return was;
    }
    return timers_.erase(id) > 0;
}

Result<void> Loop::watch(int fd, std::uint32_t epoll_events, IoWatcher* watcher) {
    return backend_->watch(fd, epoll_events, watcher);
}

Result<void> Loop::modify(int fd, std::uint32_t epoll_events, IoWatcher* watcher) {
    return backend_->modify(fd, epoll_events, watcher);
}

void Loop::unwatch(int fd) noexcept {
    backend_->unwatch(fd);
}

void Loop::drain_posted() {
    std::uint64_t count;
    [[maybe_unused]] auto n = ::read(event_fd_, &count, sizeof count);
    // Clear the flag before draining so a post racing with the drain wakes us again
    // (wake_flag.hpp says why this must be an RMW).
    detail::clear_wake(wake_pending_);
    while (Posted* p = posted_.pop()) {
        auto fn = std::move(p->fn);
        delete p;
        fn();
    }
}

void Loop::run_deferred() {
    while (!deferred_.empty()) {
        running_deferred_.swap(deferred_);
        for (auto& fn : running_deferred_) {
            fn();
        }
        running_deferred_.clear();
    }
}

void Loop::run_timers() {
    while (!timer_heap_.empty() && timer_heap_.front().when <= now_) {
        TimerEntry top = timer_heap_.front();
        std::pop_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
        timer_heap_.pop_back();
        auto it = timers_.find(top.id);
        if (it == timers_.end()) {
            continue;  // cancelled
        }
        last_lag_ = now_ - top.when;
        if (it->second.period > Duration::zero()) {
            // Periodic: keep the record (no allocation), re-arm after the callback.
            firing_ = top.id;
            firing_cancelled_ = false;
            it->second.fn();
            firing_ = 0;
            if (firing_cancelled_) {
                timers_.erase(top.id);
            } else {
                timer_heap_.push_back({top.when + timers_.at(top.id).period, top.id});
                std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
            }
            continue;
        }
        auto fn = std::move(it->second.fn);
        timers_.erase(it);
        fn();
    }
}

int Loop::next_timeout_ms() const {
    if (!deferred_.empty()) {
        return 0;
    }
    // Skip cancelled entries lazily: an early wake-up is harmless.
    if (timer_heap_.empty()) {
        return -1;
    }
    auto delta = timer_heap_.front().when - Clock::now();
    if (delta <= Duration::zero()) {
        return 0;
    }
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(delta).count();
    return static_cast<int>(std::min<long long>(ms, 60'000));
}

void Loop::run() {
    Loop* previous = t_current;
    t_current = this;
    running_.store(true, std::memory_order_release);
    backend_->start_on_this_thread();
    while (!stop_.load(std::memory_order_acquire)) {
        run_deferred();
        bool ok = backend_->wait(next_timeout_ms());  // io_uring: also submits what was queued
        now_ = Clock::now();
        if (!ok) {
            break;
        }
        backend_->dispatch();
        run_timers();
    }
    // Work posted before stop() still runs (e.g. coroutine resumptions during shutdown).
    drain_posted();
    run_deferred();
    // What is still queued in the back-end (and what that sets off) is finished now.
    for (int i = 0; i < 8 && backend_->finish() > 0; ++i) {
        run_deferred();
    }
    stop_.store(false, std::memory_order_release);
    running_.store(false, std::memory_order_release);
    t_current = previous;
}

}  // namespace keel
