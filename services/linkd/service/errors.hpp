#pragma once
// What the service layer answers when it says no. The handler layer maps a Fault to an HTTP
// status (handler/problems.cpp); the service never thinks in statuses.

#include <keel/core/result.hpp>
#include <keel/json/validate.hpp>

#include <string>
#include <utility>
#include <variant>

namespace linkd {

enum class Fault {
    invalid,          ///< the input breaks a rule; `fields` says which and why
    unauthenticated,  ///< no key, a malformed, unknown or revoked key
    forbidden,        ///< the key may not do this (admin-only operations)
    not_found,        ///< no such thing, or it belongs to another key
    gone,             ///< the link has expired
    conflict,         ///< the slug is taken
    unavailable,      ///< the database is down or overloaded: retry later
    internal,
};

struct ServiceError {
    Fault fault = Fault::internal;
    std::string detail;
    keel::json::Errors fields;
};

/// A repository error seen from the service: unavailable stays unavailable, and so on.
ServiceError from_repository(const keel::Error& e);

template <class T>
class [[nodiscard]] ServiceResult {
public:
    ServiceResult(T value) : v_(std::move(value)) {}             // NOLINT: implicit
    ServiceResult(ServiceError error) : v_(std::move(error)) {}  // NOLINT: implicit
    explicit operator bool() const noexcept { return v_.index() == 0; }
    T& operator*() { return std::get<0>(v_); }
    const T& operator*() const { return std::get<0>(v_); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    ServiceError& error() { return std::get<1>(v_); }
    const ServiceError& error() const { return std::get<1>(v_); }

private:
    std::variant<T, ServiceError> v_;
};

template <>
class [[nodiscard]] ServiceResult<void> {
public:
    ServiceResult() = default;
    ServiceResult(ServiceError error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit
    explicit operator bool() const noexcept { return !failed_; }
    ServiceError& error() { return error_; }

private:
    ServiceError error_;
    bool failed_ = false;
};

}  // namespace linkd

/// Unwraps a repository Result in a service coroutine, or co_returns it as a ServiceError.
#define LINKD_CO_TRY(var, expr)                                                   \
    auto KEEL_DETAIL_CAT(linkd_try_, __LINE__) = (expr);                          \
    if (!KEEL_DETAIL_CAT(linkd_try_, __LINE__)) {                                 \
        co_return ::linkd::from_repository(KEEL_DETAIL_CAT(linkd_try_, __LINE__).error()); \
    }                                                                             \
    auto var = std::move(*KEEL_DETAIL_CAT(linkd_try_, __LINE__))
