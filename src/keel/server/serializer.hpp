#pragma once
// Internal to the http module: a Response's status line and head as HTTP/1.1 bytes (the
// framing the server owns: Date, Content-Length or chunked, Connection), then its body.

#include <keel/http/response.hpp>

#include <string>
#include <string_view>

namespace keel::server {

struct HeadContext {
    int version_minor = 1;       ///< the request's: HTTP/1.0 gets no chunked coding
    bool keep_alive = true;      ///< the request allows another after this one
    bool head_request = false;   ///< HEAD: the head of a GET, no body
    bool must_close = false;     ///< the server closes after this response (shutdown, errors)
    std::string_view date_line;  ///< "Date: ...\r\n", refreshed once a second
};

struct Framing {
    bool closing = false;  ///< `Connection: close` was sent: close once it is written
    bool chunked = false;  ///< a streamed body follows as chunks
};

/// Appends the status line, headers and (unless streamed, a file or HEAD) the body of `r` to
/// `out`. A file body is counted in Content-Length and sent by the connection after the head.
/// `stream`: the body comes later, chunked (or close-delimited for HTTP/1.0).
Framing serialize_response(std::string& out, http::Response& r, const HeadContext& context, bool stream);

}  // namespace keel::server
