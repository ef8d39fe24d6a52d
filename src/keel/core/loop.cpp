#include <keel/core/loop.hpp>

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
// epoll's data.ptr for the eventfd; never dereferenced.
char g_wake_tag;
}  // namespace

Loop::Loop(WorkerPool* workers, IoBackend backend) : workers_(workers), now_(Clock::now()) {
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0) {
        throw std::runtime_error(std::string("keel: cannot create event loop: ") + std::strerror(errno));
    }
    if (backend == IoBackend::io_uring) {
        try {
            ring_ = std::make_unique<IoRing>();
        } catch (...) {
            ::close(event_fd_);
            throw;
        }
        ring_->watch(event_fd_, EPOLLIN, &wake_);
        return;
    }
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
        ::close(event_fd_);
        throw std::runtime_error(std::string("keel: cannot create event loop: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &g_wake_tag;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev);
}

Loop::~Loop() {
    while (Posted* p = posted_.pop()) {
        delete p;
    }
    ring_.reset();
    ::close(event_fd_);
    if (epoll_fd_ >= 0) {
        ::close(epoll_fd_);
    }
}

Loop* Loop::current() noexcept { return t_current; }

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

void Loop::defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }

TimerId Loop::run_after(Duration delay, std::function<void()> fn) { return run_at(Clock::now() + delay, std::move(fn)); }

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
    if (ring_) {
        ring_->watch(fd, epoll_events, watcher);
        return {};
    }
    epoll_event ev{};
    ev.events = epoll_events | EPOLLET;
    ev.data.ptr = watcher;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        return Error::with_detail(Errc::io, std::string("epoll_ctl: ") + std::strerror(errno));
    }
    return {};
}

Result<void> Loop::modify(int fd, std::uint32_t epoll_events, IoWatcher* watcher) {
    if (ring_) {
        ring_->watch(fd, epoll_events, watcher);
        return {};
    }
    epoll_event ev{};
    ev.events = epoll_events | EPOLLET;
    ev.data.ptr = watcher;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
        return Error::with_detail(Errc::io, std::string("epoll_ctl: ") + std::strerror(errno));
    }
    return {};
}

void Loop::unwatch(int fd) noexcept {
    if (ring_) {
        ring_->unwatch(fd);
        return;
    }
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
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
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    if (ring_) {
        ring_->start_on_this_thread();
    }
    while (ring_ && !stop_.load(std::memory_order_acquire)) {
        run_deferred();
        ring_->wait(next_timeout_ms());  // also submits what the last iteration queued
        now_ = Clock::now();
        ring_->dispatch();
        run_timers();
    }
    while (!ring_ && !stop_.load(std::memory_order_acquire)) {
        run_deferred();
        int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, next_timeout_ms());
        now_ = Clock::now();
        if (n < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < n; ++i) {
            void* tag = events[i].data.ptr;
            if (tag == &g_wake_tag) {
                drain_posted();
            } else {
                static_cast<IoWatcher*>(tag)->on_io(events[i].events);
            }
        }
        run_timers();
    }
    // Work posted before stop() still runs (e.g. coroutine resumptions during shutdown).
    drain_posted();
    run_deferred();
    // io_uring: submit what is queued (e.g. the cancels of connections closed just now) and
    // let the kernel finish them, so their sockets are released now, not when the loop dies.
    for (int i = 0; ring_ && i < 8; ++i) {
        ring_->wait(0);
        if (ring_->dispatch() == 0) {
            break;
        }
        run_deferred();
    }
    stop_.store(false, std::memory_order_release);
    running_.store(false, std::memory_order_release);
    t_current = previous;
}

}  // namespace keel
