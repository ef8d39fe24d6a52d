#include "connection.hpp"

#include "serializer.hpp"

#include <keel/http/detail/string_recycler.hpp>
#include <keel/http/status.hpp>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace keel::server {

Connection::Connection(Server::Worker& worker, int fd, const net::Address& remote, std::unique_ptr<SecureChannel> tls)
    : fd_(fd), worker_(worker), remote_(remote), tls_(std::move(tls)) {
    rq_.started = last_activity_ = worker_.loop().now();
    worker_.add(this);
}

Connection::~Connection() {
    if (fd_ >= 0) {
        if (!ring_io_.on) {
            worker_.loop().unwatch(fd_);
        }
        ::close(fd_);
    }
    if (ring_io_.on) {
        ring()->drop(ring_io_.inbox);
        ring()->forget(this);
    }
    close_file();
    if (x_) {
        x_->reset();  // closed mid-request, perhaps: request_done() did not clear it
        worker_.give_back(std::move(x_));
    }
    if (in_.buf && in_.cap == kReadBufferSize) {
        worker_.give_back(std::move(in_.buf));
    }
    worker_.remove(this);
}

void Connection::on_io(std::uint32_t events) {
    if (phase_ == Phase::closed) {
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
        in_.drained = false;  // a new edge: there may be bytes again
    }
    if (events & (EPOLLRDHUP | EPOLLHUP)) {
        in_.peer_closed = true;  // the FIN may come in the same event as the last bytes
    }
    if (events & EPOLLERR) {
        run_.stop().request_stop();
        close();
        return;
    }
    if ((events & EPOLLOUT) && tls_wants_write_) {
        tls_wants_write_ = false;  // the handshake (or a read) can go on: drive() below
        in_.drained = false;
        if (out_.blocked_since == TimePoint{}) {
            (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP, this);
        }
    }
    if ((events & EPOLLOUT) && (pending_out() > 0 || out_.blocked_since != TimePoint{})) {
        flush();
        wake_drain_waiter();
        if (phase_ == Phase::closed) {
            return;
        }
    }
    if (phase_ == Phase::lingering) {
        start_lingering();
        return;
    }
    if (phase_ == Phase::h2) {
        h2_->on_io(events);
        return;
    }
    if (phase_ == Phase::upgraded) {
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
            wake_body_waiter();  // bytes (or the end) for the upgraded stream's read()
        }
        if (events & EPOLLHUP) {
            run_.stop().request_stop();
            close();
        }
        return;
    }
    if (phase_ == Phase::handler || phase_ == Phase::stream) {
        if (body_.streaming && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
            wake_body_waiter();  // more of the body (or its end) for the handler's read()
            if (!(events & EPOLLHUP)) {
                return;  // a half-close is the body's end; read() reads it
            }
        }
        if (events & (EPOLLRDHUP | EPOLLHUP)) {
            // The client went away (or half-closed): cancel the work done on its behalf.
            run_.stop().request_stop();
            out_.close_after = true;
            if (events & EPOLLHUP) {
                close();
            }
        }
        return;
    }
    drive();
}

void Connection::drive() {
    if (drive_ != Drive::idle) {
        drive_ = Drive::again;  // re-entered (a handler answered inline): the loop below repeats
        return;
    }
    do {
        drive_ = Drive::driving;
        process();
    } while (drive_ == Drive::again && phase_ != Phase::closed);
    drive_ = Drive::idle;
}

void Connection::process() {
    if (!x_) {
        x_ = worker_.take_exchange();
    }
    for (;;) {
        if (phase_ == Phase::head) {
            if (out_.close_after) {
                flush();  // lingers, then closes, once everything is written
                return;
            }
            if (out_.file_left > 0 && !flush()) {
                return;  // a file body is being sent: the next response waits for it (EPOLLOUT)
            }
            Protocol protocol = http1_ ? Protocol::http1 : sniff_protocol();
            if (protocol == Protocol::http2) {
                start_h2();
                return;
            }
            http1_ = protocol == Protocol::http1;
            if (http1_ && try_complete_head()) {
                continue;
            }
        } else if (phase_ == Phase::body) {
            if (try_complete_body()) {
                continue;
            }
        } else {
            return;  // handler running, streaming, lingering or closed
        }

        // Every complete request in the buffer is answered: send, then read more.
        if (pending_out() > 0 && !flush()) {
            if (phase_ == Phase::closed || pending_out() > kHighWater) {
                return;  // resume on EPOLLOUT
            }
        }
        if (in_.drained && !in_.peer_closed) {
            release_if_idle();
            return;  // the last read emptied the socket; the next edge brings more
        }
        switch (fill()) {
            case Fill::data:
                continue;
            case Fill::again:
                release_if_idle();
                return;
            case Fill::eof:
                // A clean close between requests, or a truncated request: either way nothing
                // more will come. Send what is pending, then close.
                out_.close_after = true;
                if (in_.start != in_.end || phase_ == Phase::body) {
                    close();
                    return;
                }
                if (flush()) {
                    close();
                }
                return;
            case Fill::full:
                respond_error(phase_ == Phase::head ? http::ParseError::headers_too_large
                                                    : http::ParseError::body_too_large);
                continue;
            case Fill::error:
                close();
                return;
        }
    }
}

Connection::Protocol Connection::sniff_protocol() const noexcept {
    const ServerOptions& o = worker_.options();
    if (tls_) {
        if (!tls_->handshake_done()) {
            return Protocol::undecided;
        }
        return tls_->alpn() == "h2" || !o.http1 ? Protocol::http2 : Protocol::http1;
    }
    if (!o.http1) {
        return in_.start == in_.end ? Protocol::undecided : Protocol::http2;  // nghttp2 checks the preface
    }
    if (!o.h2c) {
        return Protocol::http1;
    }
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    std::size_t avail = in_.end - in_.start;
    std::size_t n = std::min(avail, kPreface.size());
    if (std::string_view(in_.buf.get() + in_.start, n) != kPreface.substr(0, n)) {
        return Protocol::http1;
    }
    return avail >= kPreface.size() ? Protocol::http2 : Protocol::undecided;
}

void Connection::start_h2() {
    phase_ = Phase::h2;
    h2_ = std::make_unique<H2Session>(std::make_unique<H2Port>(*this));
    h2_->start();
}

bool Connection::try_complete_head() {
    std::size_t avail = in_.end - in_.start;
    if (avail == 0) {
        return false;
    }
    const http::ParserLimits& limits = worker_.options().limits;
    // Parse again only when a new line arrived (keeps byte-at-a-time senders linear), unless
    // the bytes so far already exceed a limit.
    std::size_t lf = http::find_lf(in_.buf.get() + in_.start, avail, in_.lf_scanned);
    in_.lf_scanned = avail;
    if (lf == avail && avail <= limits.max_header_bytes && avail <= limits.max_uri_bytes) {
        return false;
    }
    http::ParseResult r = http::parse_request_head(in_.buf.get() + in_.start, avail, x_->head, limits);
    if (r.status == http::ParseStatus::incomplete) {
        return false;
    }
    if (r.status == http::ParseStatus::error) {
        respond_error(r.error);
        return true;
    }
    rq_.head_len = r.consumed;
    rq_.head_parsed = true;
    if (x_->head.body_kind == http::BodyKind::none) {
        rq_.body_len = 0;
        x_->req.set_body({});
        dispatch();
        return true;
    }
    rq_.sent_continue = false;
    x_->trailers.clear();
    x_->chunked.reset(limits.max_body_bytes);
    if (wants_streamed_body()) {
        dispatch_streamed_body();
        return true;
    }
    phase_ = Phase::body;
    return true;
}

bool Connection::wants_streamed_body() {
    const http::StreamBodyPredicate& stream_body = worker_.options().stream_body;
    if (!stream_body) {
        return false;
    }
    x_->req.reset();
    x_->req.assign(x_->head, {}, &x_->trailers);
    return stream_body(x_->req);
}

void Connection::dispatch_streamed_body() {
    // The handler gets views into the buffer now: make it big enough for the head, a window of
    // body and trailers, so it never moves while the handler runs.
    const http::ParserLimits& limits = worker_.options().limits;
    std::size_t need = rq_.head_len + kStreamedBodyBuffer + limits.max_header_bytes;
    if (in_.cap - in_.start < need) {
        std::size_t have = in_.end - in_.start;
        std::size_t new_cap = std::max(need, have);
        std::unique_ptr<char[]> bigger(new char[new_cap]);
        std::memcpy(bigger.get(), in_.buf.get() + in_.start, have);
        in_.buf = std::move(bigger);
        in_.cap = new_cap;
        in_.start = 0;
        in_.end = have;
        http::parse_request_head(in_.buf.get(), rq_.head_len, x_->head, limits);  // the views, at their new place
    }
    body_.streaming = true;
    body_.done = false;
    body_.timed_out = false;
    body_.left = x_->head.body_kind == http::BodyKind::content_length ? x_->head.content_length : 0;
    body_.handed = body_.chunks_handed = 0;
    rq_.body_len = 0;
    x_->req.set_body({});
    dispatch();
}

bool Connection::try_complete_body() {
    std::size_t body_start = in_.start + rq_.head_len;
    std::size_t avail = in_.end - body_start;
    if (x_->head.expect_continue && !rq_.sent_continue && avail == 0) {
        // The client waits for our go-ahead before sending the body (RFC 9110 §10.1.1).
        out_.bytes.append("HTTP/1.1 100 Continue\r\n\r\n");
        rq_.sent_continue = true;
        flush();
        if (phase_ == Phase::closed) {
            return false;
        }
    }
    if (x_->head.body_kind == http::BodyKind::content_length) {
        if (avail < x_->head.content_length) {
            return false;
        }
        rq_.body_len = static_cast<std::size_t>(x_->head.content_length);
        x_->req.set_body({in_.buf.get() + body_start, rq_.body_len});
        dispatch();
        return true;
    }
    http::ParseResult r = x_->chunked.decode(in_.buf.get() + body_start, avail, &x_->trailers);
    if (r.status == http::ParseStatus::error) {
        respond_error(r.error);
        return true;
    }
    if (r.status == http::ParseStatus::incomplete) {
        return false;
    }
    rq_.body_len = r.consumed;
    x_->req.set_body({in_.buf.get() + body_start, x_->chunked.decoded()});
    dispatch();
    return true;
}

void Connection::dispatch() {
    if (rq_.head_moved) {
        // The buffer moved while the body arrived: the head's views must point at its new place.
        rq_.head_moved = false;
        http::parse_request_head(in_.buf.get() + in_.start, rq_.head_len, x_->head, worker_.options().limits);
    }
    std::string_view body = x_->req.body();
    x_->req.reset();
    x_->req.assign(x_->head, body, &x_->trailers);
    x_->req.set_body_stream(body_.streaming ? this : nullptr);
    rq_.keep_alive = x_->head.keep_alive;
    rq_.head_request = x_->req.method() == http::Method::head;
    run_.run(worker_, x_->req, {.remote = &remote_, .tls = tls_.get(), .received_at = rq_.started}, *this);
}

void Connection::handler_started() {
    phase_ = Phase::handler;
}

bool Connection::handler_ended(bool timed_out) {
    if (phase_ == Phase::closed) {
        if (!coroutine_running()) {
            destroy_later();
        }
        return false;
    }
    if (timed_out || phase_ == Phase::lingering) {
        // The client already got a 503; this late answer is dropped. If the 503 is still on its
        // way (a slow reader, or an io_uring send not yet complete), the connection lingers once
        // it is out.
        if (timed_out && phase_ == Phase::handler) {
            phase_ = Phase::head;
            flush();
        }
        return false;
    }
    phase_ = Phase::head;
    return true;
}

void Connection::finish(http::Response& r) {
    end_streamed_body();
    if (r.is_upgrade()) {
        if (!rq_.head_request && !worker_.shutting_down() && !out_.close_after) {
            start_upgrade(r);
            return;
        }
        r = worker_.answer_problem(503, "the server is shutting down", x_->req.method_name(), x_->req.path(), remote_,
                                   x_->req.received_at());
    }
    if (r.is_stream() && !rq_.head_request && http::status_allows_body(r.status())) {
        start_stream(r);
        return;
    }
    serialize(r, false);
    if (r.has_file_body() && !rq_.head_request && http::status_allows_body(r.status())) {
        http::Response::FileRange f = r.release_file();
        out_.file_fd = f.fd;
        out_.file_offset = f.offset;
        out_.file_left = f.length;
        if (out_.file_left == 0) {
            close_file();
        }
    }
    request_done();
}

void Connection::start_stream(http::Response& r) {
    serialize(r, true);
    out_.stream_ends_on_shutdown = r.ends_stream_on_shutdown();
    x_->stream_fn = std::move(r.stream_body());
    phase_ = Phase::stream;
    response_coroutine_ = true;
    flush();
    start_response_coroutine([this] { return x_->stream_fn(*this); },
                             [this](std::exception_ptr e) { on_stream_done(e); });
}

void Connection::on_stream_done(std::exception_ptr e) {
    response_coroutine_ = false;
    x_->stream_fn = nullptr;
    if (phase_ == Phase::closed) {
        destroy_later();
        return;
    }
    if (e) {
        // Mid-body there is no way to report an error but to cut the connection: the client
        // sees a body without its final chunk.
        worker_.emit(ServerEvent::Level::error, "stream body threw", "");
        close();
        return;
    }
    if (out_.chunked) {
        out_.bytes.append("0\r\n\r\n");
    }
    phase_ = Phase::head;
    request_done();
    drive();
}

void Connection::request_done() {
    in_.start += rq_.head_len + rq_.body_len;
    if (in_.start >= in_.end) {
        in_.start = in_.end = 0;
    }
    rq_.head_len = rq_.body_len = 0;
    rq_.head_parsed = false;
    body_.streaming = false;
    in_.lf_scanned = 0;
    phase_ = Phase::head;
    rq_.first = false;
    x_->req.reset();
    x_->trailers.clear();
    rq_.started = last_activity_ = worker_.loop().now();
}

void Connection::respond_error(http::ParseError e) {
    respond_problem(status_for(e), describe(e));
}

void Connection::respond_problem(int status, std::string_view detail) {
    // The request line, when it was read (for the problem's instance, the log and the metric).
    std::string_view method, path;
    if (rq_.head_parsed) {
        if (rq_.head_moved) {
            rq_.head_moved = false;  // the buffer moved while the body arrived: point into its new place
            http::parse_request_head(in_.buf.get() + in_.start, rq_.head_len, x_->head, worker_.options().limits);
        }
        method = x_->head.method;
        path = http::split_target(x_->head.target).path;
    }
    http::Response r = worker_.answer_problem(status, detail, method, path, remote_, rq_.started);
    rq_.keep_alive = false;
    rq_.head_request = false;
    serialize(r, false);
    if (phase_ == Phase::body) {
        phase_ = Phase::head;
    }
    out_.close_after = true;
}

void Connection::serialize(http::Response& r, bool stream) {
    if (out_.bytes.capacity() <= 15) {
        out_.bytes = http::detail::acquire_string();  // given back when the connection went idle
    }
    Framing f = serialize_response(out_.bytes, r,
                                   {.version_minor = x_->req.version_minor(),
                                    .keep_alive = rq_.keep_alive,
                                    .head_request = rq_.head_request,
                                    .must_close = worker_.shutting_down() || out_.close_after,
                                    .date_line = worker_.date_line()},
                                   stream);
    out_.chunked = f.chunked;
    out_.close_after = f.closing;
}

void Connection::close() {
    if (phase_ == Phase::closed) {
        return;
    }
    if (coroutine_running()) {
        run_.stop().request_stop();
    }
    if (ring_io_.on) {
        // The kernel holds the socket until these end; the connection waits for them too.
        if (ring_io_.recv_armed) {
            ring()->cancel(this, RingOp::recv);
        }
        if (ring_io_.send_in_flight) {
            ring()->cancel(this, RingOp::send);
        }
        if (ring_io_.poll_out_armed) {
            ring()->cancel(this, RingOp::poll);
        }
        if (ring()->forget(this)) {
            --ring_io_.ops;  // it waited for a buffer: there is no recv to cancel
        }
        ring()->drop(ring_io_.inbox);
    } else {
        worker_.loop().unwatch(fd_);
    }
    ::close(fd_);
    fd_ = -1;
    close_file();
    phase_ = Phase::closed;
    wake_drain_waiter();
    wake_body_waiter();
    if (h2_) {
        h2_->on_connection_closed();
    }
    if (!coroutine_running() && (!h2_ || h2_->running() == 0)) {
        destroy_later();  // else when the coroutine is done with this connection
    }
}

void Connection::destroy_later() {
    if (destroy_scheduled_) {
        return;
    }
    destroy_scheduled_ = true;
    delete_when_done();
}

void Connection::delete_when_done() {
    if (destroy_scheduled_ && ring_io_.ops == 0 && !delete_queued_) {
        delete_queued_ = true;  // else the last completion does it (on_complete)
        worker_.loop().defer([this] { delete this; });
    }
}

void Connection::on_tick(TimePoint now) {
    if (phase_ == Phase::closed) {
        return;
    }
    const ServerOptions& o = worker_.options();
    if (out_.blocked_since != TimePoint{} && now - out_.blocked_since > o.write_timeout) {
        worker_.emit(ServerEvent::Level::debug, "write timeout", remote_.to_string());
        run_.stop().request_stop();
        close();
        return;
    }
    if (phase_ == Phase::h2) {
        h2_->on_tick(now);
        return;
    }
    switch (phase_) {
        case Phase::head:
            if (out_.close_after || out_.file_left > 0) {
                break;  // still answering (a file body's pace is write_timeout's to judge)
            }
            if (tls_ && !tls_->handshake_done()) {
                if (now - rq_.started > o.tls_handshake_timeout) {
                    o.tls->handshake_failed(true);
                    close();  // nothing can be answered before the handshake
                }
            } else if (in_.start == in_.end) {
                if (worker_.shutting_down() && quiet_for(kDrainIdleGrace, now)) {
                    close();  // draining: an idle connection goes once nothing is on its way
                    break;
                }
                Duration limit = rq_.first ? o.read_header_timeout : o.idle_timeout;
                TimePoint since = rq_.first ? rq_.started : last_activity_;
                if (now - since > limit) {
                    close();  // nothing of a request arrived: close quietly
                }
            } else if (now - rq_.started > o.read_header_timeout) {
                respond_problem(408, "the request header was not received in time");
                flush();
            }
            break;
        case Phase::body:
            if (now - rq_.started > o.read_timeout) {
                respond_problem(408, "the request body was not received in time");
                flush();
            }
            break;
        case Phase::handler:
            if (body_.streaming && !body_.done && !body_.timed_out && now - rq_.started > o.read_timeout) {
                body_.timed_out = true;  // read() answers 408
                wake_body_waiter();
            }
            if (run_.check_deadline(now, o.handler_timeout, *this)) {
                flush();  // the 503; the connection lingers once it is out
            }
            break;
        case Phase::lingering:
            if (now - linger_.since > kLingerTimeout) {
                close();
            }
            break;
        case Phase::upgraded:  // the protocol's read deadline (and write_timeout, above)
            if (up_.read_deadline != TimePoint{} && now > up_.read_deadline) {
                up_.read_deadline = {};
                up_.read_timed_out = true;
                wake_body_waiter();
            }
            break;
        case Phase::stream:
        case Phase::h2:
        case Phase::closed:
            break;
    }
}

void Connection::begin_shutdown() {
    if (phase_ == Phase::closed || phase_ == Phase::lingering) {
        return;
    }
    if (phase_ == Phase::h2) {
        h2_->begin_shutdown();
        return;
    }
    if (phase_ == Phase::head && in_.start == in_.end && !out_.close_after) {
        // Idle as far as we have read. A request may already wait in the kernel's buffer (sent
        // just before the shutdown, its event not handled yet): read first, so what arrived is
        // answered (with Connection: close) instead of cut off.
        in_.drained = false;
        drive();
        if (quiet_for(kDrainIdleGrace, worker_.loop().now())) {
            close();  // idle for a while: no request is on its way
        }
        // Otherwise it stays open a moment, and on_tick closes it once quiet: a client that has
        // just been answered often sends its next request at once, and closing now would cut
        // that request off. Whatever arrives meanwhile is answered with Connection: close.
    }
    if (phase_ == Phase::upgraded) {
        up_.shutdown_pending = true;  // the protocol says goodbye its own way (WebSocket: 1001)
        wake_body_waiter();
        return;
    }
    if (phase_ == Phase::stream && out_.stream_ends_on_shutdown) {
        out_.close_after = true;
        run_.stop().request_stop();  // an endless stream (SSE) ends now; the client reconnects elsewhere
    }
    // Otherwise a request is in progress: its response will carry Connection: close.
}

void Connection::release_if_idle() noexcept {
    if (phase_ != Phase::head || in_.start != in_.end || rq_.head_parsed || coroutine_running() || out_.close_after ||
        pending_out() > 0 || up_.stream || h2_) {
        return;
    }
    if (x_) {
        worker_.give_back(std::move(x_));  // request_done() already cleared it
    }
    if (in_.buf) {
        if (in_.cap == kReadBufferSize) {
            worker_.give_back(std::move(in_.buf));
        }
        in_.buf.reset();  // a grown buffer is freed
        in_.cap = in_.start = in_.end = in_.lf_scanned = 0;
    }
    if (out_.bytes.capacity() > 15) {
        http::detail::release_string(std::move(out_.bytes));  // serialize() takes a recycled one again
        out_.bytes = std::string();
    }
}

bool Connection::quiet_for(Duration grace, TimePoint now) const noexcept {
    return phase_ == Phase::head && in_.start == in_.end && !out_.close_after && pending_out() == 0 &&
           now - last_activity_ >= grace;
}

void Connection::force_close() {
    run_.stop().request_stop();
    close();
}

StopToken Connection::stop_token() const noexcept {
    return run_.stop_token();
}

H2Transport::Read Connection::H2Port::read_more() {
    switch (c_.fill()) {
        case Fill::data:
            return Read::data;
        case Fill::again:
            return Read::again;
        case Fill::eof:
            return Read::eof;
        case Fill::full:
        case Fill::error:
            break;
    }
    return Read::error;
}

}  // namespace keel::server
