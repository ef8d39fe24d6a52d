#pragma once
/// keel::cache::SingleFlight<V>: concurrent calls for the same key share one execution (Go's
/// golang.org/x/sync/singleflight). The first caller runs `load`; callers that arrive while it
/// runs wait for its result instead of loading again, each resuming on its own loop:
///
///     SingleFlight<Result<Link>> flight;
///     auto link = co_await flight.run(slug, [&] { return repo.find_link(slug); });
///
/// A thundering herd of N misses for one key costs one database query. An exception thrown by
/// `load` reaches every waiter. Thread-safe; await on a loop thread.

#include <keel/core/assert.hpp>
#include <keel/core/loop.hpp>
#include <keel/core/task.hpp>

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace keel::cache {

template <class V>
class SingleFlight {
  public:
    /// Runs (or joins) the load for `key`. `load` is only called by the first caller.
    template <class Load>
    Task<V> run(std::string key, Load load) {
        std::shared_ptr<Call> call;
        bool leader = false;
        {
            std::lock_guard lock(mu_);
            auto& slot = calls_[key];
            if (!slot) {
                slot = std::make_shared<Call>();
                leader = true;
            } else {
                ++shared_;
            }
            call = slot;
        }
        if (!leader) {
            co_await Join{this, call.get()};
            co_return take(*call);
        }
        ++executions_;
        try {
            call->value.emplace(co_await load());
        } catch (...) {
            call->error = std::current_exception();
        }
        std::vector<Waiter> waiters;
        {
            std::lock_guard lock(mu_);
            calls_.erase(key);
            call->done = true;
            waiters.swap(call->waiters);
        }
        for (const Waiter& w : waiters) {
            w.loop->post([h = w.h] { h.resume(); });
        }
        co_return take(*call);
    }

    /// Loads run, and calls that joined one instead of loading.
    std::uint64_t executions() const noexcept { return executions_.load(); }
    std::uint64_t shared() const noexcept { return shared_.load(); }

  private:
    struct Waiter {
        Loop* loop = {};
        std::coroutine_handle<> h = {};
    };
    struct Call {
        std::optional<V> value = {};
        std::exception_ptr error = {};
        bool done = false;
        std::vector<Waiter> waiters = {};
    };
    struct Join {
        SingleFlight* self = {};
        Call* call = {};
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            Loop* loop = Loop::current();
            KEEL_INVARIANT(loop != nullptr);
            std::lock_guard lock(self->mu_);
            if (call->done) {
                return false;  // finished before we could wait
            }
            call->waiters.push_back({loop, h});
            return true;
        }
        void await_resume() const noexcept {}
    };

    static V take(Call& c) {
        if (c.error) {
            std::rethrow_exception(c.error);
        }
        return *c.value;  // every caller gets its own copy
    }

    std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<Call>> calls_;
    std::atomic<std::uint64_t> executions_{0};
    std::atomic<std::uint64_t> shared_{0};
};

}  // namespace keel::cache
