#pragma once
/// keel::Result<T>: a value or a keel::Error, for API boundaries where the caller must handle
/// the failure. Member names are a subset of std::expected's (has_value, value, error,
/// operator*, operator->, value_or) so that C++23 can alias it later.
///
/// KEEL_TRY(var, expr) / KEEL_CO_TRY(var, expr) unwrap a Result or return / co_return its error.

#include <keel/core/assert.hpp>
#include <keel/core/error.hpp>

#include <optional>
#include <type_traits>
#include <utility>

namespace keel {

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}                                    // NOLINT: implicit
    Result(Error error) : error_(std::move(error)) {}                                // NOLINT: implicit
    template <class U, class = std::enable_if_t<std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, Error> &&
                                                !std::is_same_v<std::decay_t<U>, Result>>>
    Result(U&& value) : value_(std::forward<U>(value)) {}  // NOLINT: implicit

    bool has_value() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { KEEL_INVARIANT(has_value()); return *value_; }
    const T& value() const& { KEEL_INVARIANT(has_value()); return *value_; }
    T&& value() && { KEEL_INVARIANT(has_value()); return std::move(*value_); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    template <class U>
    T value_or(U&& fallback) const& { return has_value() ? *value_ : static_cast<T>(std::forward<U>(fallback)); }

    const Error& error() const& { KEEL_INVARIANT(!has_value()); return *error_; }
    Error&& error() && { KEEL_INVARIANT(!has_value()); return std::move(*error_); }

private:
    std::optional<T> value_;
    std::optional<Error> error_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit

    bool has_value() const noexcept { return !error_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const { KEEL_INVARIANT(has_value()); }
    const Error& error() const& { KEEL_INVARIANT(!has_value()); return *error_; }
    Error&& error() && { KEEL_INVARIANT(!has_value()); return std::move(*error_); }

private:
    std::optional<Error> error_;
};

}  // namespace keel

#define KEEL_DETAIL_CAT2(a, b) a##b
#define KEEL_DETAIL_CAT(a, b) KEEL_DETAIL_CAT2(a, b)

/// auto-declares `var` from a Result expression or returns its error from the enclosing function.
#define KEEL_TRY(var, expr)                                      \
    auto KEEL_DETAIL_CAT(keel_try_, __LINE__) = (expr);          \
    if (!KEEL_DETAIL_CAT(keel_try_, __LINE__)) {                 \
        return std::move(KEEL_DETAIL_CAT(keel_try_, __LINE__)).error(); \
    }                                                            \
    auto var = std::move(*KEEL_DETAIL_CAT(keel_try_, __LINE__))

/// Same as KEEL_TRY inside a coroutine (co_return).
#define KEEL_CO_TRY(var, expr)                                   \
    auto KEEL_DETAIL_CAT(keel_try_, __LINE__) = (expr);          \
    if (!KEEL_DETAIL_CAT(keel_try_, __LINE__)) {                 \
        co_return std::move(KEEL_DETAIL_CAT(keel_try_, __LINE__)).error(); \
    }                                                            \
    auto var = std::move(*KEEL_DETAIL_CAT(keel_try_, __LINE__))

/// Returns the error of a Result<void> expression from the enclosing function.
#define KEEL_TRY_VOID(expr)                                      \
    if (auto KEEL_DETAIL_CAT(keel_try_, __LINE__) = (expr); !KEEL_DETAIL_CAT(keel_try_, __LINE__)) { \
        return std::move(KEEL_DETAIL_CAT(keel_try_, __LINE__)).error(); \
    }

/// Same as KEEL_TRY_VOID inside a coroutine (co_return).
#define KEEL_CO_TRY_VOID(expr)                                   \
    if (auto KEEL_DETAIL_CAT(keel_try_, __LINE__) = (expr); !KEEL_DETAIL_CAT(keel_try_, __LINE__)) { \
        co_return std::move(KEEL_DETAIL_CAT(keel_try_, __LINE__)).error(); \
    }
