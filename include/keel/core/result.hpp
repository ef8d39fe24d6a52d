#pragma once
/// keel::Result<T, E>: a value or an error, for API boundaries where the caller must handle
/// the failure — keel's one error channel. E defaults to keel::Error (a code plus a message);
/// a layer with errors of its own uses its own E (linkd's services return
/// Result<Link, ServiceError>, handlers may return Result<Response, http::Problem>).
///
///     Result<User> find(std::int64_t id);                  // Error on failure
///     auto u = find(7);
///     if (!u) return u.error();                             // or KEEL_TRY(user, find(7));
///     use(*u);
///
/// Member names are a subset of std::expected's (has_value, value, error, operator*,
/// operator->, value_or) so that C++23 can alias it later. Both sides convert implicitly:
/// `return user;` and `return Error(...)` both work, and so does returning any G that E can
/// be built from (a ServiceError that converts to a Problem), as long as T cannot be.
/// value() and error() on the wrong side are broken invariants (KEEL_INVARIANT aborts).
///
/// KEEL_TRY(var, expr) / KEEL_CO_TRY(var, expr) unwrap a Result or return / co_return its
/// error, converted to the enclosing function's error type.

#include <keel/core/assert.hpp>
#include <keel/core/error.hpp>

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace keel {

template <class T, class E = Error>
class [[nodiscard]] Result {
    static_assert(!std::is_same_v<std::decay_t<T>, std::decay_t<E>>, "keel::Result: T and E must differ");

  public:
    using value_type = T;
    using error_type = E;

    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
    Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit
    /// Anything T can be built from (a string literal for Result<std::string>).
    template <class U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, E> && !std::is_same_v<std::decay_t<U>, Result>) Result(U&& value)
        : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT: implicit
    /// Anything E can be built from that T cannot (another layer's error type).
    template <class G>
    requires(std::is_constructible_v<E, G&&> && !std::is_constructible_v<T, G&&> &&
             !std::is_same_v<std::decay_t<G>, E> && !std::is_same_v<std::decay_t<G>, Result>) Result(G&& error)
        : v_(std::in_place_index<1>, E(std::forward<G>(error))) {}  // NOLINT: implicit

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & {
        KEEL_INVARIANT(has_value());
        return std::get<0>(v_);
    }
    const T& value() const& {
        KEEL_INVARIANT(has_value());
        return std::get<0>(v_);
    }
    T&& value() && {
        KEEL_INVARIANT(has_value());
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
    }

    const E& error() const& {
        KEEL_INVARIANT(!has_value());
        return std::get<1>(v_);
    }
    E& error() & {
        KEEL_INVARIANT(!has_value());
        return std::get<1>(v_);
    }
    E&& error() && {
        KEEL_INVARIANT(!has_value());
        return std::get<1>(std::move(v_));
    }

  private:
    std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
  public:
    using value_type = void;
    using error_type = E;

    Result() = default;
    Result(E error) : error_(std::move(error)) {}  // NOLINT: implicit
    template <class G>
    requires(std::is_constructible_v<E, G&&> && !std::is_same_v<std::decay_t<G>, E> &&
             !std::is_same_v<std::decay_t<G>, Result>) Result(G&& error)
        : error_(E(std::forward<G>(error))) {}  // NOLINT: implicit

    bool has_value() const noexcept { return !error_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const { KEEL_INVARIANT(has_value()); }
    const E& error() const& {
        KEEL_INVARIANT(!has_value());
        return *error_;
    }
    E& error() & {
        KEEL_INVARIANT(!has_value());
        return *error_;
    }
    E&& error() && {
        KEEL_INVARIANT(!has_value());
        return std::move(*error_);
    }

  private:
    std::optional<E> error_;
};

}  // namespace keel

#define KEEL_DETAIL_CAT2(a, b) a##b
#define KEEL_DETAIL_CAT(a, b) KEEL_DETAIL_CAT2(a, b)

/// Declares `var` from a Result expression's value, or returns its error from the enclosing
/// function (whose return type must be constructible from that error).
#define KEEL_TRY(var, expr)                                             \
    auto KEEL_DETAIL_CAT(keel_try_, __LINE__) = (expr);                 \
    if (!KEEL_DETAIL_CAT(keel_try_, __LINE__)) {                        \
        return std::move(KEEL_DETAIL_CAT(keel_try_, __LINE__)).error(); \
    }                                                                   \
    auto var = std::move(*KEEL_DETAIL_CAT(keel_try_, __LINE__))

/// Same as KEEL_TRY inside a coroutine (co_return).
#define KEEL_CO_TRY(var, expr)                                             \
    auto KEEL_DETAIL_CAT(keel_try_, __LINE__) = (expr);                    \
    if (!KEEL_DETAIL_CAT(keel_try_, __LINE__)) {                           \
        co_return std::move(KEEL_DETAIL_CAT(keel_try_, __LINE__)).error(); \
    }                                                                      \
    auto var = std::move(*KEEL_DETAIL_CAT(keel_try_, __LINE__))

/// Returns the error of a Result<void> expression from the enclosing function.
#define KEEL_TRY_VOID(expr)                                                                          \
    if (auto KEEL_DETAIL_CAT(keel_try_, __LINE__) = (expr); !KEEL_DETAIL_CAT(keel_try_, __LINE__)) { \
        return std::move(KEEL_DETAIL_CAT(keel_try_, __LINE__)).error();                              \
    }

/// Same as KEEL_TRY_VOID inside a coroutine (co_return).
#define KEEL_CO_TRY_VOID(expr)                                                                       \
    if (auto KEEL_DETAIL_CAT(keel_try_, __LINE__) = (expr); !KEEL_DETAIL_CAT(keel_try_, __LINE__)) { \
        co_return std::move(KEEL_DETAIL_CAT(keel_try_, __LINE__)).error();                           \
    }
