#pragma once
// What the service layer answers when it says no: ServiceResult<T> is keel::Result with a
// ServiceError. The handler layer maps a Fault to an HTTP status (handler/routes.cpp); the
// service never thinks in statuses.

#include <keel/core/result.hpp>
#include <keel/json/validate.hpp>

#include <string>
#include <utility>

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
    std::string detail = {};
    keel::json::Errors fields = {};

    ServiceError() = default;
    ServiceError(Fault f, std::string d, keel::json::Errors e = {})
        : fault(f), detail(std::move(d)), fields(std::move(e)) {}
    /// A repository's error seen from the service: conflict stays conflict, unavailable,
    /// timeout, overloaded and cancelled are unavailable, the rest internal. Implicit, so that
    /// KEEL_CO_TRY passes repository errors up as they are.
    ServiceError(const keel::Error& e);  // NOLINT: implicit
};

/// What the services return: the value, or why not.
template <class T>
using ServiceResult = keel::Result<T, ServiceError>;

}  // namespace linkd
