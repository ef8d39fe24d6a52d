#pragma once
/// keel::http::TraceContext: W3C Trace Context (https://www.w3.org/TR/trace-context/). The
/// `traceparent` header names the trace a request belongs to and the caller's span:
///
///   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
///                version-trace id (16 bytes)-parent id (8 bytes)-flags
///
/// keel::mw::trace_context() parses it (or starts a new trace), gives the request a span id of
/// its own and stores the result in the request context; logs name the trace id, and outgoing
/// calls send `traceparent()` so the next service continues the same trace.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::http {

struct TraceContext {
    std::array<std::uint8_t, 16> trace_id{};
    std::array<std::uint8_t, 8> parent_id{};  ///< the caller's span (zero when we started the trace)
    std::array<std::uint8_t, 8> span_id{};    ///< this request's span
    std::uint8_t flags = 0;                   ///< bit 0: sampled

    /// 32 lowercase hex digits, for logs.
    std::string trace_id_hex() const;
    std::string span_id_hex() const;
    /// The header for an outgoing request made on behalf of this one: our span is its parent.
    std::string traceparent() const;
};

/// Parses a traceparent value. nullopt when invalid: wrong shape, uppercase hex, version ff,
/// all-zero trace or parent id, or a version-00 value with extra fields. Later versions are
/// accepted by their first four fields, as the specification asks.
std::optional<TraceContext> parse_traceparent(std::string_view value);

/// A new trace (random trace id), sampled, with a random span id.
TraceContext new_trace();
/// The same trace, continued: a new random span id for this hop.
TraceContext continue_trace(const TraceContext& incoming);

}  // namespace keel::http
