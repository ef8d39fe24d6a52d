#pragma once
/// keel::http::BodyStream: a request body read piece by piece as it arrives, for uploads too
/// large to hold. A request gets one (req.body_stream()) when ServerOptions::stream_body says
/// so for its head; its handler runs as soon as the head is read, req.body() stays empty, and
/// the server holds at most one read buffer (HTTP/1.1) or one flow-control window (HTTP/2)
/// of it at a time. server.max_body_bytes and server.read_timeout still apply.
///
///     keel::Task<keel::ProblemOr> upload(keel::Request& req) {
///         std::uint64_t total = 0;
///         for (;;) {
///             KEEL_CO_TRY(piece, co_await req.body_stream()->read());
///             if (piece.empty()) {
///                 break;  // the whole body was read
///             }
///             total += piece.size();  // or write it to a file, a hash, a database...
///         }
///         co_return keel::Response::text(std::to_string(total));
///     }

#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/http/problem.hpp>

#include <functional>
#include <string_view>

namespace keel::http {

class Request;

class BodyStream {
  public:
    virtual ~BodyStream() = default;
    /// The next piece of the body, valid until the next call; empty once the body is complete.
    /// A problem when the body cannot be read: 413 past the body limit, 408 past the read
    /// timeout, 400 for a broken chunked encoding or a client that went away.
    virtual Task<Result<std::string_view, Problem>> read() = 0;
};

/// Decides, from a request's head (method, path, headers; no body yet), whether its body is
/// streamed. Runs on the loop thread for every request that has a body.
using StreamBodyPredicate = std::function<bool(const Request&)>;

}  // namespace keel::http
