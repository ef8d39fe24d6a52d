#pragma once
/// keel::idempotency::middleware: the Idempotency-Key request header (IETF httpapi draft
/// "The Idempotency-Key HTTP Header Field") for routes that are not idempotent by nature, such
/// as a POST that creates something. A client that retries after a timeout or a dropped
/// connection sends the same key, and the work is done once:
///
///     idempotency::SqliteStore keys(db);
///     auto once = idempotency::middleware(keys, {.principal = [](Request& req) { return api_key_of(req); }});
///     r.with({once}).post("/v1/orders", create_order);
///
/// For a request with the header, per principal, key, method and path:
/// - the first one runs; its response (status, headers, body) is stored for `ttl` (24 h), unless
///   it is transient (429, 5xx) or not storable (streamed, a file, larger than max_response): then
///   the key is freed and a retry runs again;
/// - a repeat with the same fingerprint (Content-Type, query and body, SHA-256) gets the stored
///   response again, with `Idempotent-Replayed: true`, and does nothing;
/// - the same key with another fingerprint: 422 problem+json;
/// - a repeat while the first still runs: 409 problem+json with Retry-After. A first request
///   whose process died keeps its key locked for `lock_timeout`, then a repeat runs it again.
/// A request without the header passes through (400 when `required`); a header that is not a
/// key (an sf-string or a token of 1 to 255 visible characters) is 400. When the store cannot be
/// reached the request is not run: 503 with Retry-After.
///
/// Install it after authentication (it needs the principal) and outside anything that could
/// answer for the handler in a way that must not be replayed.

#include <keel/core/loop.hpp>
#include <keel/http/middleware.hpp>
#include <keel/idempotency/store.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace keel::idempotency {

/// The milliseconds since the epoch the middleware reads (tests inject their own).
UnixMillis system_clock_millis() noexcept;

struct Options {
    /// Who sent the request (an API key's id, a user id): keys are scoped to it. nullopt: the
    /// request passes through untouched (it is not authenticated; its handler answers that).
    /// Unset: every request has the same principal.
    std::function<std::optional<std::string>(http::Request&)> principal = {};
    Duration ttl = std::chrono::hours(24);            ///< how long a response is replayed
    Duration lock_timeout = std::chrono::minutes(1);  ///< a running first request's hold on its key
    bool required = false;                            ///< no header: 400 instead of running
    std::size_t max_response = 1 << 20;               ///< larger bodies are not stored
    std::function<UnixMillis()> clock = system_clock_millis;
};

http::Middleware middleware(Store& store, Options options = {});

/// The key of an Idempotency-Key value: an sf-string ("…", escapes \" and \\) or, as many
/// clients send it, a bare token; nullopt when it is neither or is empty or longer than 255.
std::optional<std::string> parse_key(std::string_view value);

}  // namespace keel::idempotency
