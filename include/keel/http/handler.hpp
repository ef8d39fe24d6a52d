#pragma once
/// keel::http::Handler: the one type-erased handler type. Built from either
///   - a plain callable `Response(Request&)`, run inline on the loop thread, or
///   - a coroutine `Task<Response>(Request&)` that may co_await database calls, timers, offload…
/// Plain handlers must not block: use a coroutine with keel::offload for blocking work.

#include <keel/core/task.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>

#include <functional>
#include <type_traits>
#include <utility>

namespace keel::http {

class Handler {
public:
    using Sync = std::function<Response(Request&)>;
    using Async = std::function<Task<Response>(Request&)>;

    Handler() = default;

    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Handler>>>
    Handler(F&& f) {  // NOLINT: implicit by design, like std::function
        using R = std::invoke_result_t<F&, Request&>;
        if constexpr (std::is_same_v<R, Task<Response>>) {
            async_ = Async(std::forward<F>(f));
        } else {
            static_assert(std::is_convertible_v<R, Response>,
                          "a keel handler returns Response or Task<Response> and takes Request&");
            sync_ = Sync(std::forward<F>(f));
        }
    }

    explicit operator bool() const noexcept { return sync_ || async_; }
    bool is_async() const noexcept { return static_cast<bool>(async_); }

    /// Plain handlers only.
    Response call(Request& req) const { return sync_(req); }
    /// Coroutine handlers only.
    Task<Response> call_async(Request& req) const { return async_(req); }

    /// Either kind as a coroutine (a plain handler runs when the task is first awaited).
    Task<Response> operator()(Request& req) const;

private:
    Sync sync_;
    Async async_;
};

}  // namespace keel::http
