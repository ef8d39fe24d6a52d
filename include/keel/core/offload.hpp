#pragma once
/// keel::offload: run a blocking or CPU-heavy callable on a WorkerPool from a coroutine and
/// resume on the awaiting loop's thread when it is done:
///
///     auto digest = co_await keel::offload([&] { return hash_password(pw); });
///     if (!digest) co_return http::Problem{.status = 503, .headers = {{"Retry-After", "1"}}};
///
/// Returns Result<R>: the value, or errors::kOverloaded when the pool's queue is full, or
/// errors::kNoWorkerPool when the loop has none (a Loop, Server or testing::call made without
/// one). An exception thrown by fn is rethrown in the awaiting coroutine. Must be awaited on a
/// loop thread; the one-argument form uses that loop's pool.

#include <keel/core/assert.hpp>
#include <keel/core/loop.hpp>
#include <keel/core/result.hpp>
#include <keel/core/worker_pool.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>

namespace keel {

namespace errors {
inline const Error kNoWorkerPool{Errc::unavailable, "keel::offload: this loop has no worker pool"};
}  // namespace errors

namespace detail {

template <class F>
class OffloadAwaiter {
  public:
    using R = std::invoke_result_t<F&>;

    OffloadAwaiter(WorkerPool* pool, F fn) : pool_(pool), fn_(std::move(fn)) {}

    bool await_ready() const noexcept { return pool_ == nullptr; }

    bool await_suspend(std::coroutine_handle<> h) {
        Loop* loop = Loop::current();
        KEEL_INVARIANT(loop != nullptr);
        bool queued = pool_->try_submit([this, h, loop] {
            try {
                if constexpr (std::is_void_v<R>) {
                    fn_();
                    value_ = true;
                } else {
                    value_.emplace(fn_());
                }
            } catch (...) {
                error_ = std::current_exception();
            }
            loop->post([h] { h.resume(); });
        });
        if (!queued) {
            rejected_ = true;
            return false;  // resume at once with the overload error
        }
        return true;
    }

    Result<R> await_resume() {
        if (pool_ == nullptr) {
            return errors::kNoWorkerPool;
        }
        if (rejected_) {
            return errors::kOverloaded;
        }
        if (error_) {
            std::rethrow_exception(error_);
        }
        if constexpr (std::is_void_v<R>) {
            return {};
        } else {
            return std::move(*value_);
        }
    }

  private:
    WorkerPool* pool_;
    F fn_;
    std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value_{};
    bool rejected_ = false;
    std::exception_ptr error_;
};

}  // namespace detail

template <class F>
[[nodiscard]] auto offload(WorkerPool& pool, F fn) {
    return detail::OffloadAwaiter<F>(&pool, std::move(fn));
}

/// Uses the pool of the loop this coroutine runs on (Loop::workers()).
template <class F>
[[nodiscard]] auto offload(F fn) {
    Loop* loop = Loop::current();
    KEEL_INVARIANT(loop != nullptr);
    return detail::OffloadAwaiter<F>(loop->workers(), std::move(fn));
}

}  // namespace keel
