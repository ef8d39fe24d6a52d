#pragma once
// One HTTP/1.1 connection: read buffer, parser state, the in-flight request, output buffer and
// timeouts. Lives on its worker's loop thread only. The buffers and the request state are
// taken from the loop's pools when bytes arrive and given back when the connection goes idle. A connection that turns out to speak HTTP/2
// (ALPN "h2", or the h2c preface) hands its requests to an H2Session and keeps the socket side.
// On an io_uring loop a plain-TCP connection is fed by completions (multishot recv into the
// ring's buffers, sends submitted with the loop's next wait); everything above fill() and
// flush() is the same on both back-ends.

#include <keel/core/stop_token.hpp>
#include <keel/http/body_stream.hpp>
#include <keel/http/chunked.hpp>
#include <keel/http/parser.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>
#include <keel/server/secure_channel.hpp>
#include <keel/http/upgrade.hpp>

#include "exchange.hpp"
#include "h2_session.hpp"
#include "worker.hpp"

#include <sys/types.h>

#include <coroutine>
#include <memory>
#include <string>

namespace keel::server {

class Connection final : public IoWatcher, public Completion, public http::BodyWriter, public http::BodyStream {
public:
    /// `tls` set: the connection speaks TLS through it (ServerOptions::tls made it).
    Connection(Server::Worker& worker, int fd, const net::Address& remote, std::unique_ptr<SecureChannel> tls);
    ~Connection() override;

    void on_io(std::uint32_t events) override;
    /// io_uring: the worker calls this instead of Loop::watch; bytes then come by completions.
    void start_ring();
    void on_complete(RingOp op, int result, std::uint32_t flags) override;
    /// Called by the worker's sweep; enforces every timeout.
    void on_tick(TimePoint now);
    /// Graceful shutdown: busy → close after the current response; idle → close once nothing
    /// was received or sent for kDrainIdleGrace (now, or from on_tick).
    void begin_shutdown();
    /// How long a draining server leaves a just-answered keep-alive connection open, for the
    /// request its client may already be sending.
    static constexpr Duration kDrainIdleGrace = std::chrono::milliseconds(250);
    /// Closes now; a running handler's stop token fires.
    void force_close();

    // BodyWriter (streamed responses)
    Task<bool> write(std::string_view data) override;
    StopToken stop_token() const noexcept override;

    // BodyStream (streamed request bodies)
    Task<Result<std::string_view, http::Problem>> read() override;

    Connection* prev = nullptr;
    Connection* next = nullptr;

private:
    friend class H2Session;
    friend class H2Stream;
    static constexpr std::size_t kInitialBuffer = kReadBufferSize;
    // Above this much unsent output we stop answering pipelined requests until the client reads.
    static constexpr std::size_t kHighWater = 256 * 1024;
    // After the last response of a closing connection we read and discard for a while, so the
    // kernel sends FIN rather than RST and the client gets to read our answer.
    static constexpr Duration kLingerTimeout = std::chrono::seconds(2);
    static constexpr std::size_t kMaxLingerBytes = 1024 * 1024;
    // Slack for chunk framing of the part of a chunked body not yet decoded.
    static constexpr std::size_t kChunkSlack = 64 * 1024;
    // io_uring: ring buffers a connection may hold unread before its recv is cancelled (the
    // rest waits in the socket, so a client that sends faster than it is answered is slowed).
    static constexpr unsigned kMaxHeldBuffers = 4;

    enum class Phase : std::uint8_t { head, body, handler, stream, h2, upgraded, lingering, closed };
    enum class Protocol : std::uint8_t { undecided, http1, http2 };
    enum class Fill : std::uint8_t { data, again, eof, full, error };

    void drive();
    void process();
    // Which protocol the client speaks, from ALPN or the first bytes (h2c prior knowledge).
    Protocol sniff_protocol() const noexcept;
    void start_h2();
    bool try_complete_head();
    bool try_complete_body();
    // ServerOptions::stream_body: asks it, and if so runs the handler now with the body to come.
    bool wants_streamed_body();
    void dispatch_streamed_body();
    Fill read_streamed_body();
    void release_handed_body();
    // The handler is done with a streamed body: what it left unread closes the connection.
    void end_streamed_body();
    void dispatch();
    void on_handler_done(std::optional<http::Response> r, std::exception_ptr e);
    void finish(http::Response& r);
    void start_stream(http::Response& r);
    void on_stream_done(std::exception_ptr e);
    // After a 101: the UpgradeHandler owns the byte stream until it returns (connection_upgrade.cpp).
    class Upgraded;
    void start_upgrade(http::Response& r);
    void on_upgrade_done(std::exception_ptr e);
    Task<Result<std::string_view>> upgraded_read();
    void request_done();
    void respond_error(http::ParseError e);
    void respond_problem(int status, std::string_view detail);
    void serialize(http::Response& r, bool chunked_stream);
    Fill fill();
    // One read (TLS or plain) into buf_[end_, end_ + space); n bytes on Fill::data.
    Fill receive_into_buffer(std::size_t space, std::size_t& n);
    Fill fill_tls(std::size_t space, std::size_t& n);
    // One plain read: recv(2), or on io_uring from the inbox (arming the recv when it is empty).
    ssize_t receive_raw(char* dst, std::size_t n);
    void arm_recv();
    void on_received(int result, std::uint32_t flags, bool more);
    void on_sent(int result);
    ssize_t send_some();
    // io_uring: submits the output (moved to the exchange's wire) unless a send is in flight.
    ssize_t ring_send();
    // The file body after out_: sendfile on plain TCP; over TLS, refill_from_file() reads a
    // piece into out_ instead.
    ssize_t send_file_some();
    bool refill_from_file();
    void close_file() noexcept;
    bool flush();
    // TLS wants the socket writable to go on (a handshake message that did not fit).
    void await_tls_writable();
    void close();
    void start_lingering();
    void destroy_later();
    void delete_when_done();
    std::size_t wire_pending() const noexcept { return x_ ? x_->wire.size() - x_->wire_sent : 0; }
    std::size_t pending_out() const noexcept { return out_.size() - out_sent_ + wire_pending() + file_left_; }
    /// Between requests with nothing buffered either way: the exchange, the read buffer and the
    /// output buffer go back to the loop's pools (an idle connection holds only itself).
    void release_if_idle() noexcept;
    /// Between requests, nothing left to write, and no activity for `grace`.
    bool quiet_for(Duration grace, TimePoint now) const noexcept;
    IoRing* ring() const noexcept { return worker_.loop().ring(); }
    void wake_drain_waiter();
    void wake_body_waiter();

    Server::Worker& worker_;
    int fd_;
    net::Address remote_;
    std::unique_ptr<SecureChannel> tls_;  // null: plain TCP
    std::unique_ptr<H2Session> h2_;       // set once the connection speaks HTTP/2
    bool http1_ = false;                  // decided: HTTP/1.x
    bool tls_wants_write_ = false;
    Phase phase_ = Phase::head;

    // read buffer: bytes [start_, end_) are unprocessed; the current request begins at start_
    std::unique_ptr<char[]> buf_;
    std::size_t cap_ = 0;
    std::size_t start_ = 0;
    std::size_t end_ = 0;
    std::size_t lf_scanned_ = 0;  // bytes after start_ already searched for a new line
    bool read_drained_ = false;  // the last recv returned less than asked: wait for an edge
    bool peer_closed_ = false;   // EPOLLRDHUP seen: the client sent FIN, a read will show the EOF

    // io_uring only (on_ring_ set): received bytes wait in ring buffers (inbox_); the connection
    // outlives the operations it has in flight (ring_ops_).
    bool on_ring_ = false;
    RingInbox inbox_;
    std::uint8_t ring_ops_ = 0;
    bool recv_armed_ = false;
    bool recv_ended_ = false;   // the client's FIN
    bool recv_failed_ = false;  // a reset
    bool send_in_flight_ = false;
    bool poll_out_armed_ = false;  // a file body waits for room in the socket

    // The request in progress (head, headers, decoder, Request): from the loop's pool while a
    // request is read, answered or streamed; given back when the connection is idle again.
    std::unique_ptr<Exchange> x_;
    std::size_t head_len_ = 0;
    std::size_t body_encoded_len_ = 0;
    bool sent_continue_ = false;
    bool head_moved_ = false;  // the buffer moved since head_ was parsed
    bool head_parsed_ = false;  // head_ holds the current request's head

    StopSource stop_;
    bool keep_alive_ = true;
    bool is_head_request_ = false;
    // A coroutine (handler or streamed body) holding this connection: the connection may not
    // be freed under it. answered_coroutine: past handler_timeout, the client got a 503 and
    // whatever the handler returns is dropped.
    enum class Running : std::uint8_t { nothing, coroutine, answered_coroutine };
    Running running_ = Running::nothing;
    bool chunked_stream_ = false;
    bool stream_ends_on_shutdown_ = false;

    // streamed request body: bytes after the head are handed to the handler by read()
    static constexpr std::size_t kStreamedBodyBuffer = 64 * 1024;
    bool body_streaming_ = false;
    bool body_done_ = false;
    bool body_timed_out_ = false;
    std::uint64_t body_left_ = 0;    // Content-Length bytes not yet handed over
    std::size_t body_handed_ = 0;    // Content-Length: bytes at the body's start handed by read()
    std::size_t chunks_handed_ = 0;  // chunked: decoded bytes handed by read()
    std::coroutine_handle<> body_waiter_;  // also an upgraded stream's reader
    int reads_in_a_row_ = 0;  // read() calls that did not wait (see kAwaitsBeforeReschedule)

    // an upgraded connection (WebSocket)
    std::unique_ptr<Upgraded> upgraded_;
    http::UpgradeHandler upgrade_fn_;
    bool upgrade_shutdown_pending_ = false;  // the next read() reports the graceful shutdown
    bool upgrade_read_timed_out_ = false;    // the next read() reports the deadline
    TimePoint upgrade_read_deadline_{};

    std::string out_;
    std::size_t out_sent_ = 0;
    // A file body queued after out_ (Response::file_body): sent once out_ is.
    int file_fd_ = -1;
    std::uint64_t file_offset_ = 0;
    std::size_t file_left_ = 0;
    bool close_after_write_ = false;
    std::coroutine_handle<> drain_waiter_;

    bool first_request_ = true;
    // drive() re-entered from inside itself (an inline answer) runs once more instead of nesting.
    enum class Drive : std::uint8_t { idle, driving, again };
    Drive drive_ = Drive::idle;
    bool destroy_scheduled_ = false;
    bool delete_queued_ = false;
    TimePoint request_start_;
    TimePoint last_activity_;
    TimePoint handler_start_;
    TimePoint write_blocked_since_{};
    TimePoint linger_start_;
    std::size_t lingered_bytes_ = 0;
};

// The UpgradeHandler's view of its connection (connection_upgrade.cpp has the rest).
class Connection::Upgraded final : public http::UpgradedStream {
public:
    explicit Upgraded(Connection& c) : c_(c) {}
    Task<Result<std::string_view>> read() override { return c_.upgraded_read(); }
    Task<bool> write(std::string_view bytes) override { return c_.write(bytes); }
    StopToken stop_token() const noexcept override { return c_.stop_token(); }
    bool shutting_down() const noexcept override { return c_.worker_.shutting_down(); }
    void abort() noexcept override { c_.force_close(); }
    void report(std::string_view event, std::string_view detail) const override;
    void set_read_deadline(TimePoint when) noexcept override {
        c_.upgrade_read_deadline_ = when;
        c_.upgrade_read_timed_out_ = false;
    }

private:
    Connection& c_;
};

}  // namespace keel::server
