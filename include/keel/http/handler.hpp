#pragma once
/// keel::http::Handler: the one type-erased handler type. Built from any of
///   - a plain callable `Response(Request&)`, run inline on the loop thread;
///   - a coroutine `Task<Response>(Request&)` that may co_await timers, keel::offload, clients…;
///   - either of those returning `Result<Response, Problem>` instead: an error is answered as
///     problem+json (its instance the request's path), so KEEL_TRY / KEEL_CO_TRY short-circuit
///     out of a handler the way `?` does in an axum handler;
///   - a callable returning `Outcome` (a ready Response or a Task), which is what routers and
///     middleware use so that wrapping a plain handler costs no coroutine.
/// Plain handlers must not block: use a coroutine with keel::offload for blocking work.

#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/http/problem.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace keel::http {

/// The result of invoking a handler: a Response now, or a Task that will produce one.
class Outcome {
  public:
    Outcome(Response r) : ready_(std::move(r)) {}       // NOLINT: implicit
    Outcome(Task<Response> t) : task_(std::move(t)) {}  // NOLINT: implicit

    bool ready() const noexcept { return ready_.has_value(); }
    Response& response() { return *ready_; }
    Task<Response> take_task() noexcept { return std::move(task_); }

  private:
    std::optional<Response> ready_;
    Task<Response> task_;
};

/// What a handler that can fail with a problem returns.
using ProblemOr = Result<Response, Problem>;

/// The response for a ProblemOr answered to `req`: the response, or the problem (with
/// the request's path as instance). For handlers that compose others by hand; a Handler does
/// this by itself.
Response respond(ProblemOr r, Request& req);
Task<Response> respond(Task<ProblemOr> task, Request& req);

class Handler {
  public:
    using Sync = std::function<Response(Request&)>;
    using Async = std::function<Task<Response>(Request&)>;
    using Dynamic = std::function<Outcome(Request&)>;

    Handler() = default;

    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Handler>>>
    Handler(F&& f) {  // NOLINT: implicit by design, like std::function
        using R = std::invoke_result_t<F&, Request&>;
        if constexpr (std::is_same_v<R, Task<Response>>) {
            async_ = Async(std::forward<F>(f));
        } else if constexpr (std::is_same_v<R, ProblemOr>) {
            sync_ = [f = std::forward<F>(f)](Request& req) mutable { return respond(f(req), req); };
        } else if constexpr (std::is_same_v<R, Task<ProblemOr>>) {
            async_ = [f = std::forward<F>(f)](Request& req) mutable { return respond(f(req), req); };
        } else if constexpr (std::is_same_v<R, Outcome>) {
            dynamic_ = Dynamic(std::forward<F>(f));
        } else {
            static_assert(std::is_convertible_v<R, Response>,
                          "a keel handler takes Request& and returns Response, Task<Response>, "
                          "Result<Response, Problem>, Task<Result<Response, Problem>> or Outcome");
            sync_ = Sync(std::forward<F>(f));
        }
    }

    explicit operator bool() const noexcept { return sync_ || async_ || dynamic_; }

    /// Calls the handler whatever its kind. Exceptions thrown before the first suspension
    /// propagate from here; later ones from awaiting the task.
    Outcome invoke(Request& req) const {
        if (sync_) {
            return Outcome(sync_(req));
        }
        if (async_) {
            return Outcome(async_(req));
        }
        return dynamic_(req);
    }

    /// Any kind, awaited from a coroutine (to compose handlers: `co_await other(req)`).
    Task<Response> operator()(Request& req) const;

  private:
    Sync sync_;
    Async async_;
    Dynamic dynamic_;
};

}  // namespace keel::http
