#pragma once
// Suspends a streamed body's writer until the connection has sent enough of what it wrote: the
// coroutine handle is parked in `slot` and resumed (deferred, on the loop) by whoever drains.

#include <keel/core/loop.hpp>

#include <coroutine>

namespace keel::server {

struct DrainAwaiter {
    std::coroutine_handle<>* slot;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { *slot = h; }
    void await_resume() const noexcept {}
};

// Resumes the coroutine from the loop's deferred queue. Ends a run of awaits that all completed
// at once (they would otherwise nest on the stack where the compiler does not turn symmetric
// transfer into tail calls, as with sanitizers) and lets other connections in.
// A body reader reschedules itself after this many reads that completed at once.
inline constexpr int kAwaitsBeforeReschedule = 16;

struct Reschedule {
    Loop& loop;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { loop.defer([h] { h.resume(); }); }
    void await_resume() const noexcept {}
};

}  // namespace keel::server
