#pragma once
/// keel::server::ServerOptions: listeners, limits and timeouts of the HTTP/1.1 and HTTP/2 server, mirroring
/// Go's http.Server. Every field is configurable through keel::config (`server.*` keys).

#include <keel/core/loop.hpp>
#include <keel/http/body_stream.hpp>
#include <keel/http/parser.hpp>
#include <keel/server/secure_channel.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace keel::server {

using namespace std::chrono_literals;

/// Something the server wants logged (a handler threw, a listener failed…). The App routes it
/// to the structured logger; the default prints nothing.
struct ServerEvent {
    enum class Level { debug, info, warn, error } level;
    std::string_view message = {};
    std::string_view detail = {};
};

/// An answer the server gave itself, with no handler's response: a request it could not read
/// or that broke a limit (400, 408, 413, 414, 431, 501, 505), a handler past
/// `handler_timeout` (503), or a handler that threw with no recoverer installed (500). The
/// App logs and counts these like requests (route ""), so slowloris cuts and smuggling
/// attempts are visible. Views are valid during the call only.
struct ServerAnswer {
    int status = 0;
    std::string_view method = {};      ///< empty when the request line was not read
    std::string_view path = {};        ///< empty when the request line was not read
    std::string_view reason;           ///< what went wrong ("the request header was not received in time")
    std::string_view request_id = {};  ///< also sent as X-Request-ID and in the problem body
    std::string_view remote_ip = {};
    Duration duration{};  ///< from the request's first byte (or the accept) to the answer
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  ///< 0 picks a free port (see Server::port())
    unsigned threads = 0;       ///< loop threads; 0 = hardware threads
    int backlog = 4096;
    /// The loops' I/O back-end. io_uring (Linux 5.19+): multishot accept and recv into
    /// provided buffers, sends submitted in one batch per loop iteration; TLS connections and
    /// everything else on the loop use its poll emulation. A program chooses it by configuration
    /// (keel::App: `server.io`); the library reads no environment for it.
    IoBackend io = IoBackend::epoll;
    /// io_uring (Linux 6.12+): a loop waiting for completions sleeps up to this much longer
    /// while fewer than 64 are ready, trading that much latency at light load for fewer
    /// wake-ups (less CPU per request) under load. 0: wake at the first completion.
    std::chrono::microseconds io_batch_wait{0};
    /// Sockets already listening, handed over by the process that started this one (systemd
    /// socket activation: $LISTEN_FDS). Set: the server accepts on these and binds nothing
    /// (host and port are ignored); every loop thread accepts on each of them. The server
    /// works on duplicates: the caller keeps, and closes, its own descriptors.
    std::vector<int> listen_fds = {};

    http::ParserLimits limits;  ///< max header bytes (431), URI (414), header count (431), body (413)

    /// From the first byte of a request (or the accept) until its head is complete → 408.
    Duration read_header_timeout = 10s;
    /// From the first byte of a request until its body is complete → 408.
    Duration read_timeout = 30s;
    /// How long a response may wait for a client that does not read → connection closed.
    Duration write_timeout = 30s;
    /// A keep-alive connection with no request in progress → closed.
    Duration idle_timeout = 60s;
    /// A handler running longer → 503 problem+json, its stop token fires. 0 disables.
    Duration handler_timeout = 30s;
    /// Graceful shutdown waits this long for in-flight requests, then force-closes.
    Duration shutdown_timeout = 15s;
    /// Set: every connection is TLS (keel::tls::ServerContext makes one). Null: plain TCP.
    std::shared_ptr<SecureChannelFactory> tls = {};
    /// A TLS handshake not done this long after the accept → closed (counted as timed out).
    Duration tls_handshake_timeout = 10s;
    /// HTTP/2 without TLS ("h2c" with prior knowledge: the client opens with the HTTP/2
    /// preface). Over TLS, HTTP/2 is chosen by ALPN (the TLS context's `alpn` list).
    bool h2c = false;
    /// false: the port speaks HTTP/2 only (prior knowledge on a plain port, whatever ALPN says
    /// over TLS); a client that does not open with the HTTP/2 preface is cut off.
    bool http1 = true;
    /// HTTP/2: streams one client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    std::uint32_t h2_max_concurrent_streams = 100;
    /// HTTP/2: response bytes one connection may hold in memory unsent (bodies and stream
    /// buffers waiting for the client's flow-control window or socket). Past it, new requests on
    /// that connection wait to run until the client takes what it was sent; a file body holds
    /// none. A connection holds at most this plus one response.
    std::size_t h2_max_buffered_bytes = 512 * 1024;

    /// Which requests get their body streamed (req.body_stream()) instead of read whole before
    /// the handler runs: asked with each head that announces a body. Unset: none.
    http::StreamBodyPredicate stream_body = {};
    std::function<void(const ServerEvent&)> on_event = {};
    /// Called on the loop thread for every ServerAnswer; must not block.
    std::function<void(const ServerAnswer&)> on_answer = {};
};

}  // namespace keel::server
