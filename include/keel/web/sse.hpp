#pragma once
/// Server-Sent Events (the WHATWG HTML "text/event-stream" format) on a streamed response:
///
///     r.get("/events", [](keel::Request& req) {
///         std::int64_t next = keel::web::last_event_id_number(req).value_or(0) + 1;
///         return keel::web::sse([next](keel::web::SseWriter& out) mutable -> keel::Task<void> {
///             for (;; ++next) {
///                 std::string id = std::to_string(next);
///                 if (!co_await out.send({.id = id, .data = "tick " + id})) co_return;  // client gone
///                 if (!co_await out.wait(std::chrono::seconds(1))) co_return;          // or shutdown
///             }
///         });
///     });
///
/// The response is `text/event-stream`, never cached or buffered by proxies (Cache-Control:
/// no-cache, X-Accel-Buffering: no). While the producer waits with `wait()` a comment line is
/// sent every `heartbeat`, so idle proxies and load balancers keep the connection open and a
/// vanished client is noticed. The producer's stop token fires when the client goes away or the
/// server shuts down gracefully (an event stream has no natural end: the client reconnects,
/// sending Last-Event-ID, to another instance).

#include <keel/core/loop.hpp>
#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace keel::web {

/// One event. Empty fields are left out; `data` may span lines (each becomes a data: line).
struct SseEvent {
    std::string_view id = {};     ///< the client sends it back as Last-Event-ID on reconnect
    std::string_view event = {};  ///< the event type (empty: "message")
    std::string_view data = {};
    std::optional<std::chrono::milliseconds> retry = {};  ///< the client's reconnection delay
};

/// "id: 7\nevent: tick\ndata: a\ndata: b\n\n". CR and LF inside id and event are dropped (they
/// would end the field); CRLF and CR in data split lines like LF.
std::string format_sse_event(const SseEvent& e);

struct SseOptions {
    std::chrono::milliseconds heartbeat = std::chrono::seconds(15);
};

class SseWriter {
  public:
    SseWriter(http::BodyWriter& out, SseOptions options) : out_(out), options_(options) {}

    /// Sends one event; false once the client is gone or the server is stopping.
    Task<bool> send(const SseEvent& e);
    /// Sends a comment line (": text"), which clients ignore.
    Task<bool> comment(std::string_view text = {});
    /// Waits `d`, sending a heartbeat comment every SseOptions::heartbeat meanwhile. False when
    /// cut short: the client went away or the server is shutting down.
    Task<bool> wait(Duration d);
    /// Fires when the client goes away or the server shuts down.
    StopToken stop_token() const noexcept { return out_.stop_token(); }

  private:
    http::BodyWriter& out_;
    SseOptions options_;
};

/// A streamed text/event-stream response whose events `producer` writes.
http::Response sse(std::function<Task<void>(SseWriter&)> producer, SseOptions options = {});

/// The Last-Event-ID request header (a reconnecting client's last seen id), if any.
std::optional<std::string_view> last_event_id(const http::Request& req);
/// The same read as a non-negative decimal number (nullopt if absent or not one).
std::optional<std::int64_t> last_event_id_number(const http::Request& req);

}  // namespace keel::web
