#pragma once
// A wake-up for the coroutines waiting for work, on any loops: notify() from any thread ends
// every wait in progress (or, with none, the next one at once); each wait also ends after its
// timeout. The state is shared with the loops' timers and posted callbacks, so none of them
// outlives what it touches.
#include <keel/core/loop.hpp>
#include <keel/core/task.hpp>

#include <algorithm>
#include <coroutine>
#include <memory>
#include <mutex>
#include <vector>

namespace keel::jobs::detail {

class Wakeup {
  public:
    void notify() {
        std::lock_guard lock(s_->mu);
        if (s_->waiters.empty()) {
            s_->pending = true;
            return;
        }
        for (const Waiter& w : s_->waiters) {
            w.loop->post([h = w.h] { h.resume(); });
        }
        s_->waiters.clear();
    }

    Task<void> wait(Duration timeout) {
        Loop* loop = Loop::current();
        TimerId timer{};
        Suspend suspend{s_, loop, timeout, timer};  // named: GCC 12 mishandles such temporaries in co_await
        co_await suspend;
        loop->cancel(timer);
    }

  private:
    struct Waiter {
        Loop* loop;
        std::coroutine_handle<> h;
    };
    struct State {
        std::mutex mu;
        std::vector<Waiter> waiters;
        bool pending = false;
        // Takes `h` out of the waiters; true when it was there (so this caller resumes it).
        bool take(std::coroutine_handle<> h) {
            auto it = std::find_if(waiters.begin(), waiters.end(), [h](const Waiter& w) { return w.h == h; });
            if (it == waiters.end()) {
                return false;
            }
            waiters.erase(it);
            return true;
        }
    };
    struct Suspend {
        std::shared_ptr<State> s;
        Loop* loop;
        Duration timeout;
        TimerId& timer;
        bool await_ready() {
            std::lock_guard lock(s->mu);
            return std::exchange(s->pending, false);
        }
        bool await_suspend(std::coroutine_handle<> h) {
            std::lock_guard lock(s->mu);
            if (std::exchange(s->pending, false)) {
                return false;  // notified between await_ready and here
            }
            s->waiters.push_back({loop, h});
            // The timer runs on this loop, like the waiter; notify() may have taken it first.
            timer = loop->run_after(timeout, [s = s, h] {
                std::unique_lock lock(s->mu);
                if (s->take(h)) {
                    lock.unlock();
                    h.resume();
                }
            });
            return true;
        }
        void await_resume() const noexcept {}
    };
    std::shared_ptr<State> s_ = std::make_shared<State>();
};

}  // namespace keel::jobs::detail
