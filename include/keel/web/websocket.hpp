#pragma once
/// WebSockets (RFC 6455) on an HTTP/1.1 upgrade, with a coroutine API:
///
///     r.get("/ws/echo", [](keel::Request& req) {
///         return keel::web::accept_websocket(req, [](keel::web::WebSocket& ws) -> keel::Task<void> {
///             for (;;) {
///                 auto message = co_await ws.receive();
///                 if (!message) co_return;  // closed: message.error() has the code and reason
///                 if (!co_await ws.send(*message)) co_return;
///             }
///         });
///     });
///
/// The handshake checks the method, Upgrade/Connection, Sec-WebSocket-Version 13 and the key
/// (400 or 426 otherwise), and the Origin (403 unless it is the request's own host or listed in
/// WebSocketOptions::allowed_origins). Then:
/// - text and binary messages, fragmented or not, up to max_message_bytes (1009 past it); text
///   is checked to be UTF-8 (1007); permessage-deflate (zlib) when the client offers it;
/// - pings are answered; a connection quiet for ping_interval is pinged, and closed (1006) if
///   nothing comes back within another ping_interval;
/// - protocol violations (an unmasked client frame, a reserved opcode or bit, a fragmented or
///   oversized control frame, a continuation without a start) close with 1002;
/// - the close handshake with codes and reasons both ways; when the handler returns, the socket
///   is closed with 1000 if it was not already; a graceful shutdown closes it with 1001;
/// - send() waits while the client reads slowly (the connection's output high-water mark), so a
///   slow client slows its sender instead of growing memory. Sends from many coroutines at once
///   (web::Hub's broadcasts) queue instead; once the messages queued for one WebSocket pass
///   max_queued_bytes it is dropped: the connection is closed at once (a peer that does not read
///   would not get a close frame either), the server side reports 1008 "the client reads too
///   slowly", and the drop is logged and counted. Memory per member stays bounded whatever the
///   members do, and no sender is slowed by the slowest reader.
/// - compressed messages may inflate by at most max_inflate_bytes_per_second on average per
///   connection (bursts up to max_message_bytes): past it the WebSocket closes with 1008, so a
///   small upload of highly compressible data cannot buy unbounded inflate work.
/// A WebSocket lives on its connection's loop; another coroutine on that loop may send() too
/// (sends are queued in order), holding the shared_ptr from share(). web::Hub broadcasts across
/// loops.

#include <keel/core/collector.hpp>
#include <keel/core/loop.hpp>
#include <keel/core/result.hpp>
#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>
#include <keel/http/handler.hpp>
#include <keel/http/upgrade.hpp>
#include <keel/web/websocket_frame.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace keel::web {

namespace detail {
class MessageDeflate;
}

/// Why the server ended WebSockets, counted (share one between endpoints or give each its own);
/// collector() exports it as keel_websocket_server_closes_total{reason}.
class WebSocketStats {
  public:
    enum class Reason : std::uint8_t { too_slow, inflate_rate, too_big, protocol, count };
    void count(Reason r) noexcept { counts_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t closes(Reason r) const noexcept {
        return counts_[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
    }
    /// For a metrics registry; holds only a weak reference to the stats.
    static metrics::Collector collector(const std::shared_ptr<WebSocketStats>& stats);

  private:
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Reason::count)> counts_{};
};

enum class MessageType { text, binary };

struct Message {
    MessageType type = MessageType::text;
    std::string data = {};
};

/// Why a WebSocket ended: the close code and reason the peer sent (or we did, for a protocol
/// error); 1005 when the close frame had no code, 1006 when the connection ended without one.
struct CloseStatus {
    std::uint16_t code = 1006;
    std::string reason = {};
};

struct WebSocketOptions {
    /// Origins allowed besides the request's own host ("https://app.example.com"); "*" allows
    /// any (for non-browser clients). A request without Origin (not a browser) is allowed.
    std::vector<std::string> allowed_origins = {};
    /// Subprotocols this endpoint speaks, in preference order (Sec-WebSocket-Protocol).
    std::vector<std::string> subprotocols = {};
    std::size_t max_message_bytes = 1024 * 1024;
    bool compression = true;               ///< accept permessage-deflate
    std::size_t compress_min_bytes = 128;  ///< smaller messages are sent as they are
    Duration ping_interval = std::chrono::seconds(30);
    Duration close_timeout = std::chrono::seconds(5);  ///< waiting for the peer's close reply
    /// Bytes of messages waiting to be written to one WebSocket (beyond the connection's output
    /// buffer) before it is dropped as too slow; a single send is always taken whole.
    std::size_t max_queued_bytes = 1024 * 1024;
    /// Average rate of inflated bytes per connection (permessage-deflate); 0 = unbounded.
    std::size_t max_inflate_bytes_per_second = 16 * 1024 * 1024;
    std::shared_ptr<WebSocketStats> stats = {};  ///< counts the closes above (optional)
};

class WebSocket : public std::enable_shared_from_this<WebSocket> {
  public:
    WebSocket(http::UpgradedStream& io, const WebSocketOptions& options, std::string subprotocol, bool deflate,
              bool client_resets_context);
    ~WebSocket();
    WebSocket(const WebSocket&) = delete;
    WebSocket& operator=(const WebSocket&) = delete;

    /// The next message, or how the WebSocket closed (then every later call says the same).
    Task<Result<Message, CloseStatus>> receive();
    /// Sends a message; false once the WebSocket is closing or closed.
    Task<bool> send(const Message& message);
    Task<bool> send_text(std::string_view text);
    Task<bool> send_binary(std::string_view bytes);
    /// Starts the close handshake (code 1000 by default) and waits for the peer's reply, up to
    /// close_timeout. receive() then reports the status.
    Task<void> close(std::uint16_t code = 1000, std::string_view reason = {});

    /// The subprotocol agreed in the handshake ("" if none).
    const std::string& subprotocol() const noexcept { return subprotocol_; }
    bool open() const noexcept { return !close_sent_ && !closed_; }
    /// Fires when the client goes away or the server is forced to stop.
    StopToken stop_token() const noexcept { return io_->stop_token(); }
    /// The loop this WebSocket lives on (post to it to send from another thread).
    Loop& loop() const noexcept { return loop_; }
    std::shared_ptr<WebSocket> share() { return shared_from_this(); }

    /// Used by accept_websocket once the handler returned: close if still open, then let queued
    /// sends finish (failing) before the connection goes.
    Task<void> finish(bool handler_failed);

    /// Bytes of messages queued by send() and not yet handed to the connection.
    std::size_t queued_bytes() const noexcept { return queued_bytes_; }

  private:
    struct SendTurn;
    Task<bool> send_frame(Opcode opcode, std::string_view payload, bool compress);
    Task<void> send_close(std::uint16_t code, std::string_view reason);
    Task<Result<Message, CloseStatus>> fail(std::uint16_t code, std::string reason,
                                            WebSocketStats::Reason counted = WebSocketStats::Reason::protocol);
    // The peer cannot be told (it does not read): close the connection, remember why.
    void drop(std::uint16_t code, std::string reason, WebSocketStats::Reason counted);
    void count(WebSocketStats::Reason r) const noexcept;
    // Bytes the inflate bucket (max_inflate_bytes_per_second) holds now.
    double inflate_allowance() noexcept;
    void release_turn() noexcept;

    http::UpgradedStream* io_;
    Loop& loop_;
    WebSocketOptions options_;
    std::string subprotocol_;
    std::unique_ptr<detail::MessageDeflate> deflate_;

    // Received bytes: [in_pos_, size) not yet consumed. Whole frames are parsed from it; the
    // consumed front is cut once per read, not once per frame.
    std::string in_;
    std::size_t in_pos_ = 0;
    std::string message_;
    MessageType message_type_ = MessageType::text;
    bool in_message_ = false;
    bool message_compressed_ = false;
    bool ping_outstanding_ = false;
    TimePoint close_deadline_{};  // set when our close frame is sent: the reply must come by then

    bool close_sent_ = false;
    bool closed_ = false;
    CloseStatus status_;

    bool sending_ = false;
    bool detached_ = false;
    std::deque<std::coroutine_handle<>> send_queue_;
    std::size_t queued_bytes_ = 0;

    double inflate_credit_ = -1;  // bytes; < 0: not started (starts full)
    TimePoint inflate_refilled_{};
};

using WebSocketHandler = std::function<Task<void>(WebSocket&)>;

/// The 101 that turns this request into a WebSocket run by `handler`, or the Problem to answer
/// when it is not a valid WebSocket handshake (see the file comment).
http::ProblemOr accept_websocket(http::Request& req, WebSocketHandler handler, const WebSocketOptions& options = {});

}  // namespace keel::web
