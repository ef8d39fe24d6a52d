#pragma once
/// keel::mw::request_id: gives every request an id. A valid incoming `X-Request-ID` (1-64 of
/// [A-Za-z0-9._:-]) is kept, anything else is replaced by 32 random hex digits. The id is stored
/// in the request context (RequestId), echoed in the `X-Request-ID` response header, and added as
/// "request_id" to problem+json bodies, so a client's error report names the log lines.
/// Put it outside everything that logs (right inside recoverer).

#include <keel/http/middleware.hpp>

#include <string_view>

namespace keel::mw {

/// The request's id, as stored in the request context. Fixed size: no allocation.
struct RequestId {
    char data[64];
    unsigned char size = 0;
    std::string_view view() const noexcept { return {data, size}; }
};

/// The id of this request, or empty when request_id() is not installed.
std::string_view request_id_of(http::Request& req) noexcept;

http::Middleware request_id();

/// Adds the request's id (if any) to `res`: the X-Request-ID header and, for problem+json, the
/// "request_id" member. request_id() does this itself; outer middleware that answer on their
/// own (recoverer) call it so their answers carry the id too.
void attach_request_id(http::Request& req, http::Response& res);

}  // namespace keel::mw
