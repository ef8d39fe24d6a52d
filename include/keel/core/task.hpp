#pragma once
/// keel::Task<T>: a lazy C++20 coroutine returning T. It starts when awaited, resumes its
/// awaiter when done (symmetric transfer, no stack growth), and rethrows an escaped exception
/// into the awaiter. A Task is move-only and owns its frame.
///
/// `keel::spawn(task, on_done)` starts a Task without an awaiting coroutine (the server uses it
/// to run coroutine handlers); on_done receives the value or the exception.
/// Frames come from a per-thread recycling pool (detail/frame_pool.hpp).
///
/// The contract, as a user of Task must know it:
/// - Where it runs: a Task runs on the thread that awaits it, and after each co_await it goes on
///   on the thread that completed what it awaited. keel's own awaitables (sleep_for, sockets,
///   pools, offload, the database drivers) complete on the loop the coroutine was on, so a
///   handler stays on its connection's loop from start to end. Never block in a Task: offload().
/// - Lifetimes: the frame keeps copies of by-value parameters and only references for
///   reference parameters. A Task that outlives the call that made it (spawned, or awaited later)
///   must take its arguments by value; a lambda coroutine's captures live in the lambda object,
///   not the frame, so the lambda must outlive the Task (or pass what it needs as parameters).
///   Awaiting a Task in the same full expression that created it is always safe.
/// - Errors: return Result<T> for expected failures; an exception that escapes a Task is
///   rethrown in its awaiter (and, for a spawned Task, handed to on_done).
/// - Cancellation is cooperative: pass a StopToken (a Request has one) to what you await.
/// - GCC 12: a braced list inside a co_await expression (`co_await f({"a", b})`) does not
///   compile ("array used as initializer"); build the argument first, or use a variadic form.

#include <keel/core/detail/frame_pool.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>
#include <variant>

namespace keel {

template <class T = void>
class Task;

namespace detail {

struct PromiseBase {
    std::coroutine_handle<> continuation = {};
    std::exception_ptr exception = {};

    static void* operator new(std::size_t n) { return frame_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_deallocate(p, n); }

    std::suspend_always initial_suspend() noexcept { return {}; }

    struct FinalAwaiter {
        bool await_ready() noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            auto next = h.promise().continuation;
            return next ? next : std::noop_coroutine();
        }
        void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <class T>
struct Promise : PromiseBase {
    std::optional<T> value = {};
    Task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
    T take() {
        if (exception) {
            std::rethrow_exception(exception);
        }
        return std::move(*value);
    }
};

template <>
struct Promise<void> : PromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() {
        if (exception) {
            std::rethrow_exception(exception);
        }
    }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
  public:
    using promise_type = detail::Promise<T>;
    using value_type = T;

    Task() noexcept = default;
    explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task() { reset(); }

    bool valid() const noexcept { return static_cast<bool>(h_); }
    bool done() const noexcept { return h_ && h_.done(); }

    auto operator co_await() && noexcept {
        struct Awaiter {
            std::coroutine_handle<promise_type> h = {};
            bool await_ready() noexcept { return h.done(); }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
                h.promise().continuation = awaiting;
                return h;
            }
            T await_resume() { return h.promise().take(); }
        };
        return Awaiter{h_};
    }

    /// Releases the frame to a caller that takes over its lifetime (used by spawn).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

  private:
    void reset() noexcept {
        if (h_) {
            h_.destroy();
            h_ = {};
        }
    }
    std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

/// A fire-and-forget coroutine: starts at once and frees itself when it finishes.
struct Detached {
    struct promise_type {
        static void* operator new(std::size_t n) { return frame_allocate(n); }
        static void operator delete(void* p, std::size_t n) noexcept { frame_deallocate(p, n); }
        Detached get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); }
    };
};

template <class T, class OnDone>
Detached spawn_impl(Task<T> task, OnDone on_done) {
    if constexpr (std::is_void_v<T>) {
        std::exception_ptr error;
        try {
            co_await std::move(task);
        } catch (...) {
            error = std::current_exception();
        }
        on_done(error);
    } else {
        std::optional<T> value;
        std::exception_ptr error;
        try {
            value.emplace(co_await std::move(task));
        } catch (...) {
            error = std::current_exception();
        }
        on_done(std::move(value), error);
    }
}
}  // namespace detail

/// Starts `task` now; when it finishes calls on_done(std::optional<T>, std::exception_ptr)
/// (or on_done(std::exception_ptr) for Task<void>). on_done must not throw.
template <class T, class OnDone>
void spawn(Task<T> task, OnDone on_done) {
    detail::spawn_impl(std::move(task), std::move(on_done));
}

}  // namespace keel
