#pragma once
// Suspends a streamed body's writer until the connection has sent enough of what it wrote: the
// coroutine handle is parked in `slot` and resumed (deferred, on the loop) by whoever drains.

#include <coroutine>

namespace keel::http {

struct DrainAwaiter {
    std::coroutine_handle<>* slot;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { *slot = h; }
    void await_resume() const noexcept {}
};

}  // namespace keel::http
