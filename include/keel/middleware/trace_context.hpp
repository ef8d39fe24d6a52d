#pragma once
/// keel::mw::trace_context: every request gets a keel::http::TraceContext in its context: the
/// caller's trace continued when `traceparent` is valid, a new trace otherwise (an invalid
/// header is ignored, as the W3C specification asks). The access log and the recoverer name
/// its trace id; handlers read it with trace_of(req) and pass `traceparent()` on outgoing calls.

#include <keel/http/middleware.hpp>
#include <keel/http/trace_context.hpp>

namespace keel::mw {

http::Middleware trace_context();

/// The request's trace, or nullptr when trace_context() is not installed.
const http::TraceContext* trace_of(http::Request& req) noexcept;

}  // namespace keel::mw
