#pragma once
// What an HTTP/1.1 connection needs only while a request is in progress: the parsed head, its
// header fields, the chunked decoder, the Request handed to the handler and a streamed
// response's producer (about 1.3 KB, plus the header vector's room). A connection takes one
// from its loop's pool when bytes arrive and gives it back when it is idle again, so an idle
// keep-alive connection holds none (Server::Worker::take_exchange / give_back).

#include <keel/http/chunked.hpp>
#include <keel/http/parser.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>

#include <algorithm>
#include <vector>

namespace keel::server {

/// Read buffers start at this size (and go back to the pool only at this size).
inline constexpr std::size_t kReadBufferSize = 8 * 1024;

struct Exchange {
    explicit Exchange(const http::ParserLimits& limits)
        : chunked(limits.max_body_bytes, limits.max_header_bytes, limits.max_headers) {
        headers.reserve(std::min<std::size_t>(limits.max_headers, 32));
        head.headers = &headers;
    }
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    /// Ready for another connection's request: nothing of the last one stays reachable.
    void reset() noexcept {
        req.reset();
        trailers.clear();
        stream_fn = {};
        wire.clear();  // a connection closed mid-send
        wire_sent = 0;
    }

    http::RequestHead head;
    std::vector<http::Header> headers;
    std::vector<http::Header> trailers;
    http::ChunkedDecoder chunked;
    http::Request req;
    http::StreamBody stream_fn;
    // io_uring: the output the kernel is sending (it must not move until the send completes;
    // the connection's out_ keeps growing meanwhile). Empty whenever the connection is idle.
    std::string wire;
    std::size_t wire_sent = 0;
};

}  // namespace keel::server
