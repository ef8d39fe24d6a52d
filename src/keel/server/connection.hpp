#pragma once
// One client connection: its socket (plain or TLS, on epoll readiness or io_uring completions),
// the read buffer, the output, and the exchange in progress. Lives on its worker's loop thread
// only. Buffers and the exchange are taken from the loop's pools when bytes arrive and given
// back when the connection goes idle. An HTTP/1.x connection runs its requests one at a time
// through an ExchangeRunner (connection.cpp); one that speaks HTTP/2 (ALPN "h2", or the h2c
// preface) hands its bytes to an H2Session through H2Port and keeps the socket side; one that
// was upgraded (101) gives its bytes to the UpgradeHandler through Upgraded.
//
// The connection's phase (phase_) and what moves it:
//
//   head ──(head with a body read whole)──▶ body ──(body in)──▶ [handler runs]
//   head ──(head, no body / streamed body)──▶ [handler runs]
//   [handler runs]: a plain handler answers inline (back to head); a coroutine one moves to
//       handler until it answers (head), times out (503 sent, still handler until it ends),
//       or the connection closes.
//   an answer with a streamed body ──▶ stream (its producer runs) ──▶ head
//   an answer 101 ──▶ upgraded (the UpgradeHandler runs) ──▶ head with close_after ──▶ lingering
//   head ──(ALPN h2 / h2c preface)──▶ h2 (the session owns the bytes) ──▶ lingering | closed
//   head with out_.close_after, once everything is sent ──▶ lingering (FIN sent, the client's
//       bytes read and dropped) ──(EOF, kLingerTimeout, too many bytes)──▶ closed
//   any ──(error, timeout, force_close)──▶ closed: the socket is closed; the object is freed
//       once no coroutine (run_, response_coroutine_, the h2 streams) and no io_uring
//       operation (ring_io_.ops) holds it.
//
// The parts below hold the rest of the state; each says what it holds and when.

#include <keel/core/stop_token.hpp>
#include <keel/http/body_stream.hpp>
#include <keel/http/chunked.hpp>
#include <keel/http/parser.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>
#include <keel/http/upgrade.hpp>
#include <keel/server/secure_channel.hpp>

#include "exchange.hpp"
#include "exchange_runner.hpp"
#include "h2_session.hpp"
#include "streamed_body.hpp"
#include "worker.hpp"

#include <sys/types.h>

#include <coroutine>
#include <memory>
#include <string>

namespace keel::server {

class Connection final : public IoWatcher, public Completion, public http::BodyWriter, public StreamedBodyReader {
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

    // ExchangeOwner (the runner's answers for the current request).
    void handler_started();
    void deliver(http::Response& r) { finish(r); }
    void deliver_problem(int status, std::string_view detail) { respond_problem(status, detail); }
    bool handler_ended(bool timed_out);
    void delivered_late() { drive(); }

  private:
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
    class H2Port;
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
    // StreamedBodyReader: the handler's read() of a streamed body (connection_body.cpp).
    Step next_step() override;
    Loop& reader_loop() noexcept override { return worker_.loop(); }
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
    std::size_t pending_out() const noexcept { return out_.bytes.size() - out_.sent + wire_pending() + out_.file_left; }
    bool coroutine_running() const noexcept { return run_.running() || response_coroutine_; }
    /// Between requests with nothing buffered either way: the exchange, the read buffer and the
    /// output buffer go back to the loop's pools (an idle connection holds only itself).
    void release_if_idle() noexcept;
    /// Between requests, nothing left to write, and no activity for `grace`.
    bool quiet_for(Duration grace, TimePoint now) const noexcept;
    IoRing* ring() const noexcept { return worker_.loop().ring(); }
    void wake_drain_waiter();
    void wake_body_waiter() { wake_reader(worker_.loop()); }

    // Member order keeps an idle connection small (bench/IDLE-MEMORY.md): fd_ fills the tail of
    // StreamedBodyReader, and the one-byte states sit together instead of each padded to 8.

    // --- transport ------------------------------------------------------------------------------
    int fd_;  // -1 once closed
    Server::Worker& worker_;
    net::Address remote_;
    // io_uring only (on): received bytes wait in ring buffers (inbox); the connection outlives
    // the operations it has in flight (ops), so it is freed only when ops is 0.
    struct RingIo {
        bool on = false;
        RingInbox inbox;
        std::uint8_t ops = 0;
        bool recv_armed = false;
        bool recv_ended = false;      // the client's FIN
        bool recv_failed = false;     // a reset
        bool send_in_flight = false;  // x_->wire belongs to the kernel until it completes
        bool poll_out_armed = false;  // a file body waits for room in the socket
    } ring_io_;
    Phase phase_ = Phase::head;
    bool tls_wants_write_ = false;     // TLS needs the socket writable to go on (EPOLLOUT watched)
    bool http1_ = false;               // decided: HTTP/1.x (else still sniffing, or h2_ is set)
    bool response_coroutine_ = false;  // a streamed body's producer or an upgrade handler runs
    // drive() re-entered from inside itself (an inline answer) runs once more instead of nesting.
    enum class Drive : std::uint8_t { idle, driving, again };
    Drive drive_ = Drive::idle;
    bool destroy_scheduled_ = false;
    bool delete_queued_ = false;
    std::unique_ptr<SecureChannel> tls_;  // null: plain TCP
    std::unique_ptr<H2Session> h2_;       // set once the connection speaks HTTP/2

    // The read buffer: bytes [start, end) are unprocessed; the current request begins at start.
    // Invariant: start <= end <= cap; buf is null (cap 0) while the connection is idle.
    struct ReadBuffer {
        std::unique_ptr<char[]> buf;
        std::size_t cap = 0;
        std::size_t start = 0;
        std::size_t end = 0;
        std::size_t lf_scanned = 0;  // bytes after start already searched for a new line
        bool drained = false;        // the last recv returned less than asked: wait for an edge
        bool peer_closed = false;    // EPOLLRDHUP seen: the client sent FIN, a read will show the EOF
    } in_;

    // --- the exchange in progress ---------------------------------------------------------------
    // From the loop's pool while a request is read, answered or streamed; given back when idle.
    std::unique_ptr<Exchange> x_;
    // What is known of the current request (valid while phase_ is past head, or head_parsed).
    struct RequestState {
        std::size_t head_len = 0;
        std::size_t body_len = 0;  // the body's encoded length in the buffer
        bool head_parsed = false;  // x_->head holds the current request's head
        bool head_moved = false;   // the buffer moved since the head was parsed: reparse before use
        bool sent_continue = false;
        bool keep_alive = true;
        bool head_request = false;
        bool first = true;  // no request answered yet (read_header_timeout, not idle_timeout)
        TimePoint started;  // its first byte arrived (or the last answer went out)
    } rq_;
    ExchangeRunner run_;  // the handler, its deadline and the exchange's stop token

    // A streamed request body (ServerOptions::stream_body), valid while streaming: the handler
    // takes it piece by piece through read(); the buffer does not move meanwhile.
    static constexpr std::size_t kStreamedBodyBuffer = 64 * 1024;
    struct StreamedBody {
        bool streaming = false;
        bool done = false;              // the whole body was handed over
        bool timed_out = false;         // read() answers 408
        std::uint64_t left = 0;         // Content-Length bytes not yet handed over
        std::size_t handed = 0;         // Content-Length: bytes at the body's start handed by read()
        std::size_t chunks_handed = 0;  // chunked: decoded bytes handed by read()
    } body_;

    // An upgraded connection (WebSocket), valid while phase_ is upgraded.
    struct Upgrade {
        std::unique_ptr<Upgraded> stream;
        http::UpgradeHandler fn;
        bool shutdown_pending = false;  // the next read() reports the graceful shutdown
        bool read_timed_out = false;    // the next read() reports the deadline
        TimePoint read_deadline{};
    } up_;

    // --- output ---------------------------------------------------------------------------------
    struct Output {
        std::string bytes;
        std::size_t sent = 0;
        // A file body queued after bytes (Response::file_body): sent once bytes are.
        std::uint64_t file_offset = 0;
        std::size_t file_left = 0;
        int file_fd = -1;
        bool close_after = false;  // close once everything is sent (lingering)
        bool chunked = false;      // the streamed response is chunk-framed
        bool stream_ends_on_shutdown = false;
        TimePoint blocked_since{};             // the socket took no more (write_timeout counts from here)
        std::coroutine_handle<> drain_waiter;  // a streamed body's writer waiting for room
    } out_;

    // --- timers (beside rq_.started, out_.blocked_since, up_.read_deadline) -----------------------
    TimePoint last_activity_;
    struct Linger {
        TimePoint since;
        std::size_t bytes = 0;
    } linger_;

  public:
    // The worker's intrusive list of live connections (declared last: see the member order).
    Connection* prev = nullptr;
    Connection* next = nullptr;
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
        c_.up_.read_deadline = when;
        c_.up_.read_timed_out = false;
    }

  private:
    Connection& c_;
};

// The connection as its HTTP/2 session sees it (H2Transport); nothing else of it is visible there.
class Connection::H2Port final : public H2Transport {
  public:
    explicit H2Port(Connection& c) : c_(c) {}
    std::string_view received() const noexcept override {
        return {c_.in_.buf.get() + c_.in_.start, c_.in_.end - c_.in_.start};
    }
    void consume_received() noexcept override { c_.in_.start = c_.in_.end = 0; }
    Read read_more() override;
    bool read_drained() const noexcept override { return c_.in_.drained && !c_.in_.peer_closed; }
    std::size_t unsent() const noexcept override { return c_.pending_out(); }
    void queue(std::string_view bytes) override { c_.out_.bytes.append(bytes); }
    void send_queued() override { c_.flush(); }
    bool closed() const noexcept override { return c_.phase_ == Phase::closed; }
    void close() override { c_.close(); }
    void close_when_sent() override {
        c_.out_.close_after = true;
        c_.start_lingering();
    }
    void release() override { c_.destroy_later(); }
    Server::Worker& worker() const noexcept override { return c_.worker_; }
    const net::Address& remote() const noexcept override { return c_.remote_; }
    const http::TlsInfo* tls() const noexcept override { return c_.tls_.get(); }
    TimePoint last_activity() const noexcept override { return c_.last_activity_; }

  private:
    Connection& c_;
};

}  // namespace keel::server
