#pragma once
// HTTP/2 on one connection (RFC 9113), framed by nghttp2's server session. The connection keeps
// its socket, TLS channel, read buffer and output buffer and shows the session only H2Transport;
// this class turns the bytes read into streams, runs each stream's request through the
// ExchangeRunner (as HTTP/1.1 does), and feeds the frames nghttp2 produces back to the
// transport's output. nghttp2's headers stay in the .cpp.

#include <keel/core/stop_token.hpp>
#include <keel/http/body_stream.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>
#include <keel/server/server_options.hpp>

#include "exchange_runner.hpp"
#include "streamed_body.hpp"

#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct nghttp2_session;
struct nghttp2_rcbuf;

namespace keel::server {

class H2Session;

/// What an HTTP/2 session needs of the connection it runs on, and nothing more: the bytes read,
/// more of them, the output, and the connection's end.
class H2Transport {
  public:
    enum class Read : std::uint8_t { data, again, eof, error };
    virtual ~H2Transport() = default;

    /// Bytes read and not yet given to the session.
    virtual std::string_view received() const noexcept = 0;
    /// The session took every byte received().
    virtual void consume_received() noexcept = 0;
    /// One more read into the buffer.
    virtual Read read_more() = 0;
    /// The last read emptied the socket: the next readiness brings more (no read until then).
    virtual bool read_drained() const noexcept = 0;
    /// Output bytes queued and not yet sent.
    virtual std::size_t unsent() const noexcept = 0;
    virtual void queue(std::string_view bytes) = 0;
    /// Sends what is queued, as far as the socket takes it.
    virtual void send_queued() = 0;
    virtual bool closed() const noexcept = 0;
    virtual void close() = 0;
    /// Nothing is queued and the session is over: FIN, then the lingering close.
    virtual void close_when_sent() = 0;
    /// The connection is closed and the session's last coroutine ended: it may be freed.
    virtual void release() = 0;
    virtual Server::Worker& worker() const noexcept = 0;
    virtual const net::Address& remote() const noexcept = 0;
    virtual const http::TlsInfo* tls() const noexcept = 0;
    virtual TimePoint last_activity() const noexcept = 0;
};

// One request/response exchange. Owned by its session; outlives nghttp2's stream while a
// handler or a streamed body still runs on it.
class H2Stream final : public http::BodyWriter, public StreamedBodyReader {
  public:
    H2Stream(H2Session& session, std::int32_t id, TimePoint now);
    ~H2Stream() override;

    Task<bool> write(std::string_view data) override;
    StopToken stop_token() const noexcept override { return run.stop_token(); }
    /// Flow control: DATA bytes the handler has taken (or that are thrown away) reopen the
    /// client's window by as much.
    void consumed(std::size_t n);

    H2Session& session;
    std::int32_t id;
    TimePoint started;

    // request, as received
    std::vector<nghttp2_rcbuf*> held;  // header names and values the views below point into
    std::vector<http::Header> headers;
    std::string_view method, path, authority;
    std::size_t header_bytes = 0;
    bool headers_too_large = false;
    std::string body;  // the whole body; for a streamed one, what arrived and was not taken yet
    bool body_too_large = false;
    // streamed body (ServerOptions::stream_body): the handler runs after the headers
    bool streaming_body = false;
    bool body_complete = false;  // END_STREAM seen
    bool body_timed_out = false;
    std::uint64_t body_total = 0;
    std::string handed;  // the piece the handler holds (until its next read())

    http::Request req;
    ExchangeRunner run;  // the handler, its deadline and its stop token

    // waiting: the request is in, but the connection's buffered responses are over
    // ServerOptions::h2_max_buffered_bytes: the handler runs once they drain. handler: the
    // handler's coroutine runs (and may read a streamed body); after its deadline's 503 the
    // stream is responding while the coroutine still ends (run.timed_out()).
    enum class State : std::uint8_t { receiving, waiting, handler, responding, streaming };
    State state = State::receiving;
    bool running = false;  // a handler or stream coroutine holds this stream
    bool closed = false;   // nghttp2 is done with the stream (ended, reset, or the session died)

    // response
    http::Response response;
    std::size_t body_sent = 0;
    bool head_only = false;
    // streamed response
    http::StreamBody stream_fn;
    std::string pending;            // written by the stream, not yet taken by nghttp2
    std::size_t buffered = 0;       // this stream's part of the session's buffered_ (unsent body bytes in memory)
    TimePoint answered_early_at{};  // our response ended before the client's request did
    bool stream_finished = false;
    std::coroutine_handle<> drain_waiter;

    void wake_body_reader();

    // ExchangeOwner (the runner's answers for this stream)
    void handler_started();
    void deliver(http::Response& r);
    void deliver_problem(int status, std::string_view detail);
    bool handler_ended(bool timed_out);
    void delivered_late();

  private:
    // StreamedBodyReader
    Step next_step() override;
    Loop& reader_loop() noexcept override;
};

// A token bucket for one kind of frame a client may send only so often.
struct TokenBucket {
    double tokens = 0;
    TimePoint last{};
    /// Takes a token (false when none is left); starts full at `burst`.
    bool take(TimePoint now, double burst, double per_second);
};

class H2Session {
  public:
    explicit H2Session(std::unique_ptr<H2Transport> transport);
    ~H2Session();
    H2Session(const H2Session&) = delete;
    H2Session& operator=(const H2Session&) = delete;

    /// Sends the server's SETTINGS and takes the bytes already read (starting with the preface).
    /// False: the session could not start (the connection is closed).
    bool start();
    void on_io(std::uint32_t events);
    void on_tick(TimePoint now);
    /// GOAWAY with the last stream id: streams in flight finish, new ones are refused.
    void begin_shutdown();
    /// The connection closed: every running stream's stop token fires.
    void on_connection_closed();
    /// Coroutines still running on this session's streams (the connection waits for them).
    std::size_t running() const noexcept { return running_; }

    // --- for nghttp2's callbacks and the streams ----------------------------------------------
    H2Stream& open_stream(std::int32_t id);
    std::int32_t highest_stream() const noexcept { return highest_stream_; }
    H2Stream* find(std::int32_t id);
    /// The header block of a request with a body is complete: refuse it early if it must be.
    void headers_done(H2Stream& s);
    /// The request is complete: run the handler. With `streamed`, only when the head asks for
    /// a streamed body (then the handler runs before the body arrives).
    void dispatch(H2Stream& s, bool streamed = false);
    /// DATA for a stream: kept, handed to a streaming handler, or thrown away.
    void on_data(std::int32_t id, const char* data, std::size_t len);
    void end_of_body(H2Stream& s);
    void answer_problem(H2Stream& s, int status, std::string_view detail);
    void stream_closed(std::int32_t id, std::uint32_t error_code);
    bool control_frame_allowed();
    bool reset_allowed(std::int32_t id);
    /// GOAWAY with `error_code`; the connection closes once it is sent.
    void terminate(std::uint32_t error_code);
    /// Moves nghttp2's frames to the connection's output and sends them.
    void send();
    /// Response bytes held in memory for `s` grew (+) or were sent or dropped (-).
    void buffer(H2Stream& s, std::size_t n) noexcept;
    /// Our END_STREAM went out on a stream the client has not ended: it is reset after a grace.
    void answered_early(std::int32_t id);
    void unbuffer(H2Stream& s, std::size_t n) noexcept;
    bool dead() const noexcept;
    const ServerOptions& options() const noexcept;
    H2Transport& transport() noexcept { return *conn_; }
    nghttp2_session* raw() noexcept { return session_; }

  private:
    friend class H2Stream;
    // Above this much unsent output nghttp2 is not asked for more frames (nor the socket read)
    // until the client reads.
    static constexpr std::size_t kHighWater = 256 * 1024;
    // A streamed body holds at most this much before its writer waits for the client.
    static constexpr std::size_t kStreamBuffer = 64 * 1024;
    // How long a client may go on sending a request we already answered before RST_STREAM.
    static constexpr Duration kEarlyAnswerGrace = std::chrono::milliseconds(500);

    void receive();
    void submit(H2Stream& s);
    void start_stream(H2Stream& s);
    void on_stream_done(H2Stream& s, std::exception_ptr e);
    // A stream's coroutine finished. True when nobody waits for its result (the stream or the
    // connection is gone; it was released).
    bool coroutine_done(H2Stream& s);
    void release(H2Stream& s);
    void wake_drain_waiters();
    void close_if_finished();
    // Dispatches the streams that wait for the buffered bytes to drain, in arrival order.
    void run_waiting();

    std::unique_ptr<H2Transport> conn_;
    nghttp2_session* session_ = nullptr;
    std::unordered_map<std::int32_t, std::unique_ptr<H2Stream>> streams_;
    std::size_t running_ = 0;
    std::int32_t highest_stream_ = 0;  // the highest stream id the client opened
    bool receiving_ = false;           // inside nghttp2_session_mem_recv: sending waits until it returns
    bool sending_ = false;
    bool send_again_ = false;
    bool shutting_down_ = false;
    bool closing_ = false;    // a GOAWAY was queued or the client is done: close once it is out
    bool peer_gone_ = false;  // the socket failed: nothing more can be sent
    // Unsent response bytes held in memory by all streams (bodies and stream buffers; a file body
    // holds only its descriptor), and the streams waiting for it to drop below the budget.
    std::size_t buffered_ = 0;
    std::deque<std::int32_t> waiting_;
    bool running_waiting_ = false;
    TokenBucket control_;
    TokenBucket resets_;
    TimePoint window_stalled_since_{};
};

}  // namespace keel::server
