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
struct Reschedule {
    Loop& loop;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        loop.defer([h] { h.resume(); });
    }
    void await_resume() const noexcept {}
};

// The fairness rule of every reader a handler drives (a streamed request body, an upgraded
// stream): `co_await pacing.next(loop)` at the top of each read; every kReadsBeforeReschedule-th
// read in a row that did not have to wait goes through the loop first (Reschedule).
class ReadPacing {
  public:
    static constexpr int kReadsBeforeReschedule = 16;

    struct Awaiter {
        Loop* loop;  // null: not due, no suspension
        bool await_ready() const noexcept { return loop == nullptr; }
        void await_suspend(std::coroutine_handle<> h) {
            loop->defer([h] { h.resume(); });
        }
        void await_resume() const noexcept {}
    };
    Awaiter next(Loop& loop) noexcept {
        if (++in_a_row_ < kReadsBeforeReschedule) {
            return {nullptr};
        }
        in_a_row_ = 0;
        return {&loop};
    }
    /// The reader waited for bytes: the run of reads that completed at once is over.
    void waited() noexcept { in_a_row_ = 0; }

  private:
    int in_a_row_ = 0;
};

}  // namespace keel::server
