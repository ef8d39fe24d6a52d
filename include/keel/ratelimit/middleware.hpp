#pragma once
/// keel::ratelimit::rate_limit: limits requests per key with a Limiter (local or Redis-backed).
///
///     auto per_ip = std::make_shared<LocalLimiter>(Limit{.rate = 100, .burst = 200});
///     r.with({rate_limit(per_ip, client_ip_key)}).get("/{slug}", follow);
///
/// Every limited response carries `RateLimit-Limit` (the burst), `RateLimit-Remaining` and
/// `RateLimit-Reset` (seconds until the key is back to a full burst), the fields of the IETF
/// RateLimit header draft. A denied request gets 429 problem+json with `Retry-After`. An empty
/// key means "not limited". With a LocalLimiter the check runs inline (no coroutine).

#include <keel/http/middleware.hpp>
#include <keel/ratelimit/limiter.hpp>

#include <functional>
#include <memory>
#include <string>

namespace keel::ratelimit {

using KeyFn = std::function<std::string(http::Request&)>;

http::Middleware rate_limit(std::shared_ptr<Limiter> limiter, KeyFn key);

/// The client's address (from keel::mw::real_ip when installed, else the TCP peer).
std::string client_ip_key(http::Request& req);

/// Seconds for a header: rounded up, at least 1 when not zero.
std::int64_t header_seconds(Duration d) noexcept;

}  // namespace keel::ratelimit
