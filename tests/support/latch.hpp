#pragma once
// A countdown a coroutine awaits on its loop, for tests that spawn N tasks and go on when all
// have finished (instead of polling a counter with sleeps). Loop thread only: the tasks that
// count down run on the loop of the coroutine that waits.
//
//     keel::test::Latch done(kN);
//     ... each spawned task: done.count_down();
//     co_await done.wait();

#include <keel/core/assert.hpp>
#include <keel/core/loop.hpp>

#include <coroutine>

namespace keel::test {

class Latch {
  public:
    explicit Latch(int count) : count_(count) {}
    Latch(const Latch&) = delete;
    Latch& operator=(const Latch&) = delete;

    void count_down() {
        KEEL_INVARIANT(count_ > 0);
        if (--count_ == 0 && waiter_) {
            // Resumed from the loop, not from inside the task that counted last.
            loop_->defer([h = waiter_] { h.resume(); });
            waiter_ = {};
        }
    }
    int count() const noexcept { return count_; }

    auto wait() {
        struct Awaiter {
            Latch& latch;
            bool await_ready() const noexcept { return latch.count_ == 0; }
            void await_suspend(std::coroutine_handle<> h) {
                latch.loop_ = Loop::current();
                KEEL_INVARIANT(latch.loop_ != nullptr);
                latch.waiter_ = h;
            }
            void await_resume() const noexcept {}
        };
        return Awaiter{*this};
    }

  private:
    int count_;
    Loop* loop_ = nullptr;
    std::coroutine_handle<> waiter_;
};

}  // namespace keel::test
