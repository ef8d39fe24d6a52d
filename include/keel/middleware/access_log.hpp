#pragma once
/// keel::mw::access_log: one structured record per request, handed to `sink` when the response
/// is ready: method, route template, path, status, bytes, duration, request id, client ip and
/// user agent. keel::App::access_log() wires it to the JSON logger; a sink must not block.
/// Place it outside (before) recoverer, request_id and real_ip: it logs on the way out, when
/// their values are known, the recoverer's 500 is the status and request_id's member is in the
/// byte count.

#include <keel/http/middleware.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace keel::mw {

struct AccessRecord {
    std::string_view method = {};
    std::string_view route;  ///< the template ("/users/{id}"), empty when nothing matched
    std::string_view path = {};
    int status = {};
    std::int64_t bytes = {};  ///< body bytes, -1 for streamed bodies
    std::chrono::microseconds duration = {};
    std::string_view request_id = {};
    std::string_view remote_ip = {};
    std::string_view user_agent = {};
    std::string_view trace_id;       ///< 32 hex digits when trace_context() runs outside, else empty
    std::string_view protocol = {};  ///< "HTTP/1.1", "HTTP/1.0" or "HTTP/2"
};

http::Middleware access_log(std::function<void(const AccessRecord&)> sink);

}  // namespace keel::mw
