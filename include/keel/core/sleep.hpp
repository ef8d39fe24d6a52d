#pragma once
/// keel::sleep_for: suspend the current coroutine on its loop for a duration, optionally
/// cut short by a StopToken. Returns true when the full duration elapsed, false when stopped.

#include <keel/core/assert.hpp>
#include <keel/core/loop.hpp>
#include <keel/core/stop_token.hpp>

#include <coroutine>
#include <optional>

namespace keel {

class SleepAwaiter {
  public:
    SleepAwaiter(Duration d, StopToken token) : delay_(d), token_(token) {}

    bool await_ready() const noexcept { return token_.stop_requested(); }

    void await_suspend(std::coroutine_handle<> h) {
        loop_ = Loop::current();
        KEEL_INVARIANT(loop_ != nullptr);
        h_ = h;
        timer_ = loop_->run_after(delay_, [this] {
            completed_ = true;
            on_stop_.reset();
            h_.resume();
        });
        on_stop_.emplace(token_, [this] {
            loop_->cancel(timer_);
            // Resume outside the stop callback so the canceller's stack unwinds first.
            loop_->defer([this] { h_.resume(); });
        });
    }

    bool await_resume() noexcept {
        on_stop_.reset();
        return completed_;
    }

  private:
    Duration delay_;
    StopToken token_;
    Loop* loop_ = nullptr;
    std::coroutine_handle<> h_;
    TimerId timer_ = 0;
    bool completed_ = false;
    std::optional<StopCallback> on_stop_;
};

[[nodiscard]] inline SleepAwaiter sleep_for(Duration d, StopToken token = {}) {
    return SleepAwaiter(d, token);
}

}  // namespace keel
