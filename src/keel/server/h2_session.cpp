#include "h2_session.hpp"

#include "drain_awaiter.hpp"

#include <keel/http/detail/byte_classes.hpp>
#include <keel/http/status.hpp>

#include <nghttp2/nghttp2.h>

#include <unistd.h>
#include <algorithm>
#include <charconv>
#include <cstring>

namespace keel::server {
namespace {

// Flood defences (beside nghttp2's own: at most 8 CONTINUATION frames per header block, 32
// SETTINGS entries per frame, 1000 queued ACKs). A bucket starts full, refills with time, and
// a client that empties it is cut with GOAWAY ENHANCE_YOUR_CALM.
constexpr double kControlBurst = 200;  // SETTINGS and PING frames
constexpr double kControlPerSecond = 20;
constexpr double kResetBurst = 200;     // streams the client reset before we answered
constexpr double kResetPerSecond = 20;  // (CVE-2023-44487); each stream that finishes earns one back
constexpr std::int32_t kStreamWindow = 256 * 1024;
constexpr std::int32_t kConnectionWindow = 1024 * 1024;

H2Session& self(void* user_data) {
    return *static_cast<H2Session*>(user_data);
}

std::string_view view(nghttp2_rcbuf* b) {
    nghttp2_vec v = nghttp2_rcbuf_get_buf(b);
    return {reinterpret_cast<const char*>(v.base), v.len};
}

bool connection_specific(std::string_view lower_name) {
    return lower_name == "connection" || lower_name == "keep-alive" || lower_name == "proxy-connection" ||
           lower_name == "transfer-encoding" || lower_name == "upgrade";
}

int on_begin_frame(nghttp2_session* session, const nghttp2_frame_hd* hd, void* user_data) {
    // A client opens streams in increasing order (RFC 9113 §5.1.1): HEADERS for an unknown stream
    // below the highest it opened is a connection error. (nghttp2 ignores it as a closed stream.)
    H2Session& s = self(user_data);
    if (hd->type == NGHTTP2_HEADERS && hd->stream_id < s.highest_stream() &&
        !nghttp2_session_find_stream(session, hd->stream_id)) {
        s.terminate(NGHTTP2_PROTOCOL_ERROR);
    }
    return 0;
}

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        self(user_data).open_stream(frame->hd.stream_id);
    }
    return 0;
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, nghttp2_rcbuf* name, nghttp2_rcbuf* value, std::uint8_t,
              void* user_data) {
    H2Session& session = self(user_data);
    H2Stream* s = session.find(frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;  // trailers are not kept
    }
    const http::ParserLimits& limits = session.options().limits;
    std::string_view n = view(name), v = view(value);
    // RFC 9113 §6.5.2's accounting: name + value + 32 per field. An HPACK bomb (one large table
    // entry referenced many times) is stopped here, having cost nothing but the decoding.
    s->header_bytes += n.size() + v.size() + 32;
    if (s->header_bytes > limits.max_header_bytes || s->headers.size() >= limits.max_headers) {
        s->headers_too_large = true;
    }
    if (s->headers_too_large) {
        return 0;
    }
    nghttp2_rcbuf_incref(name);
    nghttp2_rcbuf_incref(value);
    s->held.push_back(name);
    s->held.push_back(value);
    if (!n.empty() && n[0] == ':') {
        if (n == ":method") {
            s->method = v;
        } else if (n == ":path") {
            s->path = v;
        } else if (n == ":authority") {
            s->authority = v;
        }
        return 0;  // :scheme is checked by nghttp2 and not needed
    }
    s->headers.push_back(http::Header{n, v});
    return 0;
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    H2Session& session = self(user_data);
    switch (frame->hd.type) {
        case NGHTTP2_HEADERS:
        case NGHTTP2_DATA: {
            H2Stream* s = session.find(frame->hd.stream_id);
            if (!s) {
                break;
            }
            if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
                if (s->streaming_body) {
                    session.end_of_body(*s);
                } else {
                    session.dispatch(*s);
                }
            } else if (frame->hd.type == NGHTTP2_HEADERS) {
                session.headers_done(*s);
            }
            break;
        }
        case NGHTTP2_PING:
        case NGHTTP2_SETTINGS:
            if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && !session.control_frame_allowed()) {
                session.terminate(NGHTTP2_ENHANCE_YOUR_CALM);
            }
            break;
        case NGHTTP2_RST_STREAM:
            if (!session.reset_allowed(frame->hd.stream_id)) {
                session.terminate(NGHTTP2_ENHANCE_YOUR_CALM);
            }
            break;
        default:
            break;
    }
    return 0;
}

int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data, std::size_t len,
                  void* user_data) {
    self(user_data).on_data(stream_id, reinterpret_cast<const char*>(data), len);
    return 0;
}

int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    // Our response is complete while the client's request is not (an early 413, 408, 431, or a
    // handler that answered before reading the whole body): on_tick resets the stream soon.
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
        self(user_data).answered_early(frame->hd.stream_id);
    }
    return 0;
}

int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data) {
    self(user_data).stream_closed(stream_id, error_code);
    return 0;
}

ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                  nghttp2_data_source* source, void*) {
    auto& s = *static_cast<H2Stream*>(source->ptr);
    if (s.response.has_file_body()) {
        const http::Response::FileRange& f = s.response.file();
        std::size_t want = std::min<std::uint64_t>(length, f.length - s.body_sent);
        ssize_t n = ::pread(f.fd, buf, want, static_cast<off_t>(f.offset + s.body_sent));
        if (n <= 0 && want > 0) {
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream: the file failed or shrank
        }
        s.body_sent += static_cast<std::size_t>(n);
        if (s.body_sent == f.length) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return n;
    }
    std::string_view body = s.response.body_view();
    std::size_t n = std::min(length, body.size() - s.body_sent);
    std::memcpy(buf, body.data() + s.body_sent, n);
    s.body_sent += n;
    s.session.unbuffer(s, n);
    if (s.body_sent == body.size()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
}

ssize_t read_stream(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                    nghttp2_data_source* source, void*) {
    auto& s = *static_cast<H2Stream*>(source->ptr);
    std::size_t n = std::min(length, s.pending.size());
    if (n == 0 && !s.stream_finished) {
        return NGHTTP2_ERR_DEFERRED;  // resumed by the next write (or the end of the stream)
    }
    std::memcpy(buf, s.pending.data(), n);
    s.pending.erase(0, n);
    s.session.unbuffer(s, n);
    if (s.pending.empty() && s.stream_finished) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
}

}  // namespace

bool TokenBucket::take(TimePoint now, double burst, double per_second) {
    if (last == TimePoint{}) {
        tokens = burst;
    } else {
        tokens = std::min(burst, tokens + std::chrono::duration<double>(now - last).count() * per_second);
    }
    last = now;
    if (tokens < 1) {
        return false;
    }
    tokens -= 1;
    return true;
}

// --- H2Stream -----------------------------------------------------------------------------

H2Stream::H2Stream(H2Session& s, std::int32_t stream_id, TimePoint now) : session(s), id(stream_id), started(now) {}

H2Stream::~H2Stream() {
    for (nghttp2_rcbuf* b : held) {
        nghttp2_rcbuf_decref(b);
    }
}

Task<bool> H2Stream::write(std::string_view data) {
    if (closed || run.stop().stop_requested() || session.dead()) {
        co_return false;
    }
    if (!data.empty()) {
        pending.append(data);
        session.buffer(*this, data.size());
        nghttp2_session_resume_data(session.raw(), id);
        session.send();
    }
    while (!closed && !session.dead() && pending.size() > H2Session::kStreamBuffer) {
        co_await DrainAwaiter{&drain_waiter};
    }
    co_return !closed && !session.dead();
}

// --- H2Session ----------------------------------------------------------------------------

H2Session::H2Session(std::unique_ptr<H2Transport> transport) : conn_(std::move(transport)) {}

H2Session::~H2Session() {
    streams_.clear();  // their header buffers go back before the session that made them
    nghttp2_session_del(session_);
}

bool H2Session::start() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_option* option = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0 || nghttp2_option_new(&option) != 0) {
        nghttp2_session_callbacks_del(callbacks);
        conn_->close();
        return false;
    }
    nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback2(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    // Our reset accounting (reset_allowed) decides; nghttp2's own limiter stays as a backstop.
    nghttp2_option_set_stream_reset_rate_limit(option, 10000, 1000);
    // We reopen windows ourselves (H2Stream::consumed): a streamed body's bytes only once its
    // handler has taken them, so a fast uploader cannot fill our memory.
    nghttp2_option_set_no_auto_window_update(option, 1);
    const ServerOptions& o = options();
    nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096);
    int rv = nghttp2_session_server_new2(&session_, callbacks, this, option);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_option_del(option);
    if (rv != 0) {
        conn_->close();
        return false;
    }
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, o.h2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamWindow)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(o.limits.max_header_bytes)},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
    receive();
    send();
    return true;
}

bool H2Session::dead() const noexcept {
    return conn_->closed();
}

const ServerOptions& H2Session::options() const noexcept {
    return conn_->worker().options();
}

H2Stream* H2Session::find(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
}

H2Stream& H2Session::open_stream(std::int32_t id) {
    highest_stream_ = std::max(highest_stream_, id);
    auto& slot = streams_[id];
    slot = std::make_unique<H2Stream>(*this, id, conn_->worker().loop().now());
    return *slot;
}

void H2Session::on_io(std::uint32_t) {
    receive();
    send();
}

void H2Session::receive() {
    receiving_ = true;
    while (!dead() && !closing_) {
        if (std::string_view in = conn_->received(); !in.empty()) {
            ssize_t rv =
                nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
            conn_->consume_received();
            if (rv < 0) {
                // A connection error. Protocol errors have their GOAWAY queued by nghttp2; the
                // fatal floods (CONTINUATION, queued ACKs) get ours. Sent, then closed.
                conn_->worker().emit(ServerEvent::Level::debug, "http2 connection error",
                                     nghttp2_strerror(static_cast<int>(rv)));
                if (rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS || rv == NGHTTP2_ERR_FLOODED) {
                    terminate(NGHTTP2_ENHANCE_YOUR_CALM);
                }
                closing_ = true;
                break;
            }
        }
        if (conn_->read_drained() || conn_->unsent() > kHighWater) {
            break;  // the next edge brings more; or the client must read first
        }
        H2Transport::Read r = conn_->read_more();
        if (r == H2Transport::Read::data) {
            continue;
        }
        if (r == H2Transport::Read::again) {
            break;
        }
        closing_ = true;  // EOF or an error: nothing more will come
        peer_gone_ = r != H2Transport::Read::eof;
        break;
    }
    receiving_ = false;
}

void H2Session::send() {
    if (sending_ || receiving_) {
        send_again_ = true;  // the outer call goes round once more
        return;
    }
    if (dead()) {
        return;
    }
    sending_ = true;
    do {
        send_again_ = false;
        if (!peer_gone_) {
            while (conn_->unsent() < kHighWater) {
                const std::uint8_t* data = nullptr;
                ssize_t n = nghttp2_session_mem_send(session_, &data);
                if (n < 0) {
                    closing_ = true;
                    peer_gone_ = true;
                    break;
                }
                if (n == 0) {
                    break;
                }
                conn_->queue({reinterpret_cast<const char*>(data), static_cast<std::size_t>(n)});
            }
        }
        if (!waiting_.empty() && buffered_ < options().h2_max_buffered_bytes) {
            run_waiting();
            send_again_ = true;  // what they answered goes out in this call
        }
        if (conn_->unsent() > 0) {
            conn_->send_queued();
            if (dead()) {
                break;
            }
        }
    } while (send_again_);
    sending_ = false;
    wake_drain_waiters();
    close_if_finished();
}

void H2Session::close_if_finished() {
    if (dead()) {
        return;
    }
    if (peer_gone_) {
        conn_->close();
        return;
    }
    bool want_write = nghttp2_session_want_write(session_) != 0;
    bool streams_open = std::any_of(streams_.begin(), streams_.end(), [](auto& e) { return !e.second->closed; });
    // After our GOAWAY nghttp2 still wants to read (the client may answer it); we are done when
    // the streams it let finish are finished.
    bool done = closing_ || (!nghttp2_session_want_read(session_) && !want_write) ||
                (shutting_down_ && !streams_open && !want_write);
    if (done && conn_->unsent() == 0) {
        conn_->close_when_sent();  // FIN after the GOAWAY, then wait for the client's
    }
}

void H2Session::wake_drain_waiters() {
    for (auto& [id, s] : streams_) {
        if (s->drain_waiter && (s->closed || dead() || s->pending.size() <= kStreamBuffer)) {
            auto h = std::exchange(s->drain_waiter, {});
            conn_->worker().loop().defer([h] { h.resume(); });
        }
    }
}

void H2Session::headers_done(H2Stream& s) {
    // A request with a body: refuse early what cannot be accepted, before its body is sent.
    if (s.headers_too_large) {
        answer_problem(s, 431, "the request header fields are larger than the server accepts");
        return;
    }
    if (auto cl = http::find_header(s.headers, "content-length")) {
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
        if (ec == std::errc{} && end == cl->data() + cl->size() && n > options().limits.max_body_bytes) {
            answer_problem(s, 413, "the request body is larger than the server accepts");
            return;
        }
    }
    if (options().stream_body) {
        dispatch(s, true);
    }
}

void H2Session::dispatch(H2Stream& s, bool streamed) {
    if (s.state != H2Stream::State::receiving) {
        return;
    }
    if (s.headers_too_large) {
        answer_problem(s, 431, "the request header fields are larger than the server accepts");
        return;
    }
    if (s.path.empty()) {
        answer_problem(s, 501, "CONNECT is not supported");
        return;
    }
    // The same target rules as HTTP/1.1: visible ASCII, no fragment, origin-form (or "*").
    if (s.path.size() > options().limits.max_uri_bytes) {
        answer_problem(s, 414, "the request target is longer than the server accepts");
        return;
    }
    bool target_ok = s.path[0] == '/' || (s.path == "*" && s.method == "OPTIONS");
    for (unsigned char c : s.path) {
        target_ok = target_ok && http::detail::is(c, http::detail::kTarget);
    }
    if (!target_ok) {
        answer_problem(s, 400, "invalid :path");
        return;
    }
    std::string_view host = s.authority;
    std::optional<std::string_view> host_header = http::find_header(s.headers, "host");
    if (host.empty()) {
        host = host_header.value_or(std::string_view{});
    } else if (host_header && !http::detail::iequals(*host_header, host)) {
        // RFC 9113 §8.3.1: a Host naming another entity than :authority is malformed.
        answer_problem(s, 400, "Host differs from :authority");
        return;
    }
    if (!http::valid_host(host)) {
        answer_problem(s, 400, "invalid :authority (or Host)");
        return;
    }
    if (buffered_ >= options().h2_max_buffered_bytes) {
        // Responses this connection's client has not taken yet fill the budget (a closed window,
        // or a socket it does not read): this request waits, holding nothing but itself.
        s.state = H2Stream::State::waiting;
        waiting_.push_back(s.id);
        return;
    }
    http::RequestHead head;
    head.method = s.method;
    head.target = s.path;
    head.version_major = 2;
    head.version_minor = 0;
    head.headers = &s.headers;
    head.host = host;
    head.keep_alive = true;

    s.req.assign(head, streamed ? std::string_view() : std::string_view(s.body), nullptr);
    if (streamed) {
        if (!options().stream_body(s.req)) {
            return;  // the body is read whole; the handler runs at END_STREAM
        }
        s.streaming_body = true;
        s.req.set_body_stream(&s);
    }
    s.head_only = s.req.method() == http::Method::head;
    s.run.run(conn_->worker(), s.req, {.remote = &conn_->remote(), .tls = conn_->tls(), .received_at = s.started}, s);
}

// ExchangeOwner: the runner's answers go back through the session.
void H2Stream::handler_started() {
    state = State::handler;
    running = true;
    ++session.running_;
}

void H2Stream::deliver(http::Response& r) {
    response = std::move(r);
    session.submit(*this);
}

void H2Stream::deliver_problem(int status, std::string_view detail) {
    session.answer_problem(*this, status, detail);
}

bool H2Stream::handler_ended(bool timed_out) {
    if (streaming_body) {
        // What the handler left of its body reopens the window; later DATA is thrown away.
        consumed(body.size() + handed.size());
        body.clear();
        handed.clear();
        wake_body_reader();
    }
    // The stream or the connection is gone (released now, perhaps), or the client has its 503.
    return !session.coroutine_done(*this) && !timed_out;
}

void H2Stream::delivered_late() {
    session.send();
}

void H2Session::on_data(std::int32_t id, const char* data, std::size_t len) {
    H2Stream* s = find(id);
    if (!s) {
        nghttp2_session_consume_connection(session_, len);  // a stream already gone
        return;
    }
    std::uint64_t limit = options().limits.max_body_bytes;
    if (s->streaming_body) {
        if (s->body_total + len > limit) {
            s->body_too_large = true;  // read() answers 413
        } else if (s->state == H2Stream::State::handler) {
            s->body_total += len;
            s->body.append(data, len);  // consumed once the handler takes it
            s->wake_body_reader();
            return;
        }
        s->consumed(len);  // the handler is done with the body: thrown away
        s->wake_body_reader();
        return;
    }
    s->consumed(len);  // whole bodies are bounded by the limit: the window reopens at once
    if (s->state != H2Stream::State::receiving && s->state != H2Stream::State::waiting) {
        return;  // answered early (413, 408): the rest is discarded
    }
    if (s->body.size() + len > limit) {
        answer_problem(*s, 413, "the request body is larger than the server accepts");
        return;
    }
    s->body.append(data, len);
}

void H2Session::end_of_body(H2Stream& s) {
    s.body_complete = true;
    s.wake_body_reader();
}

void H2Stream::wake_body_reader() {
    wake_reader(session.transport().worker().loop());
}

Loop& H2Stream::reader_loop() noexcept {
    return session.transport().worker().loop();
}

void H2Stream::consumed(std::size_t n) {
    if (!closed && !session.dead()) {
        nghttp2_session_consume(session.raw(), id, n);
    }
}

// The handler's read() of a streamed body: DATA frames arrive into `body` (on_data).
StreamedBodyReader::Step H2Stream::next_step() {
    if (!handed.empty()) {
        consumed(handed.size());  // the client may send as much again
        handed.clear();
        session.send();
    }
    if (closed || session.dead() || state != State::handler) {
        return Step::refuse(400, "the client went away before the whole body arrived");
    }
    if (body_too_large) {
        return Step::refuse(413, "the request body is larger than the server accepts");
    }
    if (body_timed_out) {
        return Step::refuse(408, "the request body was not received in time");
    }
    if (!body.empty()) {
        handed.swap(body);  // the handler's view stays valid while more DATA arrives
        return Step::give(handed);
    }
    return body_complete ? Step::end() : Step::wait();
}

bool H2Session::coroutine_done(H2Stream& s) {
    s.running = false;
    --running_;
    if (dead()) {
        if (s.closed) {
            release(s);
        }
        if (running_ == 0) {
            conn_->release();
        }
        return true;
    }
    if (s.closed) {
        release(s);
        return true;
    }
    return false;
}

void H2Session::answer_problem(H2Stream& s, int status, std::string_view detail) {
    s.response = conn_->worker().answer_problem(status, detail, s.method, http::split_target(s.path).path,
                                                conn_->remote(), s.started);
    s.head_only = false;
    submit(s);
}

void H2Session::submit(H2Stream& s) {
    bool stream = s.response.is_stream();
    s.state = stream ? H2Stream::State::streaming : H2Stream::State::responding;
    s.body_sent = 0;
    if (s.closed) {
        return;
    }
    http::Response& r = s.response;
    int status = r.status();
    if (status < 200 || status > 999) {
        status = 500;  // interim answers are not a handler's to give
    }
    char code[3] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10)};
    bool body_allowed = http::status_allows_body(status);

    // HTTP/2 field names are lowercase; the names are lowered into `names` (reserved up front, so
    // the views nghttp2 copies from stay put).
    std::string_view block = r.header_block();
    std::string names;
    names.reserve(block.size());
    std::vector<nghttp2_nv> nva;
    nva.reserve(16);
    auto add = [&nva](std::string_view name, std::string_view value) {
        nva.push_back(nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                                 reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                                 value.size(), NGHTTP2_NV_FLAG_NONE});
    };
    add(":status", {code, 3});
    std::string_view date = conn_->worker().date_line();  // "Date: …\r\n"
    add("date", date.substr(6, date.size() - 8));
    while (!block.empty()) {
        std::size_t eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        std::size_t at = names.size();
        for (char c : line.substr(0, colon)) {
            names.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
        }
        std::string_view name(names.data() + at, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        if (!connection_specific(name) && name != "content-length") {
            add(name, value);
        }
    }
    char length[24];
    if (!stream && body_allowed) {
        auto [end, ec] = std::to_chars(length, length + sizeof length, r.body_size());
        add("content-length", {length, static_cast<std::size_t>(end - length)});
    }
    nghttp2_data_provider provider{};
    provider.source.ptr = &s;
    provider.read_callback = stream ? read_stream : read_body;
    bool has_body = body_allowed && !s.head_only && (stream || r.body_size() > 0);
    if (has_body && !stream && !r.has_file_body()) {
        buffer(s, r.body_view().size());
    }
    nghttp2_submit_response(session_, s.id, nva.data(), nva.size(), has_body ? &provider : nullptr);
    if (stream && has_body) {
        start_stream(s);
    }
}

void H2Session::start_stream(H2Stream& s) {
    s.stream_fn = std::move(s.response.stream_body());
    s.running = true;
    ++running_;
    H2Stream* sp = &s;
    start_response_coroutine([sp] { return sp->stream_fn(*sp); },
                             [this, sp](std::exception_ptr e) { on_stream_done(*sp, e); });
}

void H2Session::on_stream_done(H2Stream& s, std::exception_ptr e) {
    s.stream_fn = nullptr;
    if (coroutine_done(s)) {
        return;
    }
    if (e) {
        // Mid-body an error can only be reported by resetting the stream.
        conn_->worker().emit(ServerEvent::Level::error, "stream body threw", "");
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
    } else {
        s.stream_finished = true;
        nghttp2_session_resume_data(session_, s.id);
    }
    send();
}

void H2Session::stream_closed(std::int32_t id, std::uint32_t error_code) {
    H2Stream* s = find(id);
    if (!s) {
        return;
    }
    s->closed = true;
    if (error_code == NGHTTP2_NO_ERROR) {
        resets_.tokens = std::min(kResetBurst, resets_.tokens + 1);  // a stream that finished
    }
    if (s->running) {
        s->run.stop().request_stop();  // reset by the client: the work done for it is cancelled
        s->wake_body_reader();
        return;  // released when its coroutine is done
    }
    release(*s);
}

void H2Session::answered_early(std::int32_t id) {
    if (H2Stream* s = find(id)) {
        s->answered_early_at = conn_->worker().loop().now();
    }
}

void H2Session::release(H2Stream& s) {
    unbuffer(s, s.buffered);
    streams_.erase(s.id);
}

void H2Session::buffer(H2Stream& s, std::size_t n) noexcept {
    s.buffered += n;
    buffered_ += n;
}

void H2Session::unbuffer(H2Stream& s, std::size_t n) noexcept {
    n = std::min(n, s.buffered);
    s.buffered -= n;
    buffered_ -= n;
}

void H2Session::run_waiting() {
    if (running_waiting_) {
        return;
    }
    running_waiting_ = true;
    while (!waiting_.empty() && buffered_ < options().h2_max_buffered_bytes && !dead()) {
        H2Stream* s = find(waiting_.front());
        waiting_.pop_front();
        if (!s || s->closed || s->state != H2Stream::State::waiting) {
            continue;  // reset by the client, or timed out, while it waited
        }
        s->state = H2Stream::State::receiving;
        // A body still arriving goes to a streaming handler if the route wants one; a complete
        // request runs now.
        dispatch(*s, nghttp2_session_get_stream_remote_close(session_, s->id) == 0);
    }
    running_waiting_ = false;
}

bool H2Session::control_frame_allowed() {
    return control_.take(conn_->worker().loop().now(), kControlBurst, kControlPerSecond);
}

bool H2Session::reset_allowed(std::int32_t id) {
    H2Stream* s = find(id);
    if (!s) {
        return true;  // already answered in full
    }
    return resets_.take(conn_->worker().loop().now(), kResetBurst, kResetPerSecond);
}

void H2Session::terminate(std::uint32_t error_code) {
    conn_->worker().emit(ServerEvent::Level::warn, "http2 client cut off",
                         error_code == NGHTTP2_ENHANCE_YOUR_CALM ? "flood (ENHANCE_YOUR_CALM)" : "protocol error");
    nghttp2_session_terminate_session(session_, error_code);
    closing_ = true;
}

void H2Session::on_tick(TimePoint now) {
    const ServerOptions& o = options();
    bool stalled = false;
    for (auto& [id, sp] : streams_) {
        H2Stream& s = *sp;
        if (s.closed) {
            continue;
        }
        if (s.answered_early_at != TimePoint{} && now - s.answered_early_at > kEarlyAnswerGrace) {
            // RFC 9113 §8.1: RST_STREAM(NO_ERROR) asks the client to stop sending a request we
            // answered, and ends the stream, so the connection can go idle (and time out)
            // instead of keeping a half-closed stream for good. Not at once: a client that is
            // still uploading (curl 7.88) drops the response if the reset comes with it.
            s.answered_early_at = {};
            if (nghttp2_session_get_stream_remote_close(session_, s.id) == 0) {
                nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_NO_ERROR);
            }
            continue;
        }
        if (s.streaming_body && !s.body_complete && !s.body_timed_out && now - s.started > o.read_timeout) {
            s.body_timed_out = true;  // read() answers 408
            s.wake_body_reader();
        }
        bool incomplete =
            s.state == H2Stream::State::receiving ||
            (s.state == H2Stream::State::waiting && nghttp2_session_get_stream_remote_close(session_, s.id) == 0);
        if (incomplete && now - s.started > o.read_timeout) {
            answer_problem(s, 408, "the request was not received in time");
        } else if (s.state == H2Stream::State::handler && s.run.check_deadline(now, o.handler_timeout, s)) {
            // the 503 is submitted; whatever the handler returns is dropped
        } else if ((s.state == H2Stream::State::responding || s.state == H2Stream::State::streaming) &&
                   (nghttp2_session_get_stream_remote_window_size(session_, s.id) <= 0 ||
                    nghttp2_session_get_remote_window_size(session_) <= 0)) {
            stalled = true;  // the client lets its flow-control window stay shut
        }
    }
    if (!stalled) {
        window_stalled_since_ = {};
    } else if (window_stalled_since_ == TimePoint{}) {
        window_stalled_since_ = now;
    } else if (now - window_stalled_since_ > o.write_timeout) {
        conn_->worker().emit(ServerEvent::Level::debug, "write timeout (http2 window closed)",
                             conn_->remote().to_string());
        conn_->close();
        return;
    }
    if (streams_.empty() && !closing_ && now - conn_->last_activity() > o.idle_timeout) {
        nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                              NGHTTP2_NO_ERROR, nullptr, 0);
        closing_ = true;
    }
    send();
}

void H2Session::begin_shutdown() {
    if (shutting_down_ || dead()) {
        return;
    }
    shutting_down_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    for (auto& [id, s] : streams_) {
        if (s->state == H2Stream::State::streaming && s->response.ends_stream_on_shutdown()) {
            s->run.stop().request_stop();  // an endless stream (SSE) ends now; the client reconnects elsewhere
        }
    }
    send();
}

void H2Session::on_connection_closed() {
    for (auto it = streams_.begin(); it != streams_.end();) {
        H2Stream& s = *it->second;
        s.closed = true;
        if (s.running) {
            s.run.stop().request_stop();
            s.wake_body_reader();
            ++it;
        } else {
            it = streams_.erase(it);
        }
    }
    wake_drain_waiters();
}

}  // namespace keel::server
