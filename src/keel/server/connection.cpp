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
    : worker_(worker), fd_(fd), remote_(remote), tls_(std::move(tls)) {
    request_start_ = last_activity_ = worker_.loop().now();
    worker_.add(this);
}

Connection::~Connection() {
    if (fd_ >= 0) {
        if (!on_ring_) {
            worker_.loop().unwatch(fd_);
        }
        ::close(fd_);
    }
    if (on_ring_) {
        ring()->drop(inbox_);
        ring()->forget(this);
    }
    close_file();
    if (x_) {
        x_->reset();  // closed mid-request, perhaps: request_done() did not clear it
        worker_.give_back(std::move(x_));
    }
    if (buf_ && cap_ == kReadBufferSize) {
        worker_.give_back(std::move(buf_));
    }
    worker_.remove(this);
}

void Connection::on_io(std::uint32_t events) {
    if (phase_ == Phase::closed) {
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
        read_drained_ = false;  // a new edge: there may be bytes again
    }
    if (events & (EPOLLRDHUP | EPOLLHUP)) {
        peer_closed_ = true;  // the FIN may come in the same event as the last bytes
    }
    if (events & EPOLLERR) {
        stop_.request_stop();
        close();
        return;
    }
    if ((events & EPOLLOUT) && tls_wants_write_) {
        tls_wants_write_ = false;  // the handshake (or a read) can go on: drive() below
        read_drained_ = false;
        if (write_blocked_since_ == TimePoint{}) {
            (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP, this);
        }
    }
    if ((events & EPOLLOUT) && (pending_out() > 0 || write_blocked_since_ != TimePoint{})) {
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
            stop_.request_stop();
            close();
        }
        return;
    }
    if (phase_ == Phase::handler || phase_ == Phase::stream) {
        if (body_streaming_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
            wake_body_waiter();  // more of the body (or its end) for the handler's read()
            if (!(events & EPOLLHUP)) {
                return;  // a half-close is the body's end; read() reads it
            }
        }
        if (events & (EPOLLRDHUP | EPOLLHUP)) {
            // The client went away (or half-closed): cancel the work done on its behalf.
            stop_.request_stop();
            close_after_write_ = true;
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
            if (close_after_write_) {
                flush();  // lingers, then closes, once everything is written
                return;
            }
            if (file_left_ > 0 && !flush()) {
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
        if (read_drained_ && !peer_closed_) {
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
                close_after_write_ = true;
                if (start_ != end_ || phase_ == Phase::body) {
                    close();
                    return;
                }
                if (flush()) {
                    close();
                }
                return;
            case Fill::full:
                respond_error(phase_ == Phase::head ? http::ParseError::headers_too_large : http::ParseError::body_too_large);
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
        return start_ == end_ ? Protocol::undecided : Protocol::http2;  // nghttp2 checks the preface
    }
    if (!o.h2c) {
        return Protocol::http1;
    }
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    std::size_t avail = end_ - start_;
    std::size_t n = std::min(avail, kPreface.size());
    if (std::string_view(buf_.get() + start_, n) != kPreface.substr(0, n)) {
        return Protocol::http1;
    }
    return avail >= kPreface.size() ? Protocol::http2 : Protocol::undecided;
}

void Connection::start_h2() {
    phase_ = Phase::h2;
    h2_ = std::make_unique<H2Session>(*this);
    h2_->start();
}

bool Connection::try_complete_head() {
    std::size_t avail = end_ - start_;
    if (avail == 0) {
        return false;
    }
    const http::ParserLimits& limits = worker_.options().limits;
    // Parse again only when a new line arrived (keeps byte-at-a-time senders linear), unless
    // the bytes so far already exceed a limit.
    std::size_t lf = http::find_lf(buf_.get() + start_, avail, lf_scanned_);
    lf_scanned_ = avail;
    if (lf == avail && avail <= limits.max_header_bytes && avail <= limits.max_uri_bytes) {
        return false;
    }
    http::ParseResult r = http::parse_request_head(buf_.get() + start_, avail, x_->head, limits);
    if (r.status == http::ParseStatus::incomplete) {
        return false;
    }
    if (r.status == http::ParseStatus::error) {
        respond_error(r.error);
        return true;
    }
    head_len_ = r.consumed;
    head_parsed_ = true;
    if (x_->head.body_kind == http::BodyKind::none) {
        body_encoded_len_ = 0;
        x_->req.set_body({});
        dispatch();
        return true;
    }
    sent_continue_ = false;
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
    std::size_t need = head_len_ + kStreamedBodyBuffer + limits.max_header_bytes;
    if (cap_ - start_ < need) {
        std::size_t have = end_ - start_;
        std::size_t new_cap = std::max(need, have);
        std::unique_ptr<char[]> bigger(new char[new_cap]);
        std::memcpy(bigger.get(), buf_.get() + start_, have);
        buf_ = std::move(bigger);
        cap_ = new_cap;
        start_ = 0;
        end_ = have;
        http::parse_request_head(buf_.get(), head_len_, x_->head, limits);  // the views, at their new place
    }
    body_streaming_ = true;
    body_done_ = false;
    body_timed_out_ = false;
    body_left_ = x_->head.body_kind == http::BodyKind::content_length ? x_->head.content_length : 0;
    body_handed_ = chunks_handed_ = 0;
    body_encoded_len_ = 0;
    x_->req.set_body({});
    dispatch();
}

bool Connection::try_complete_body() {
    std::size_t body_start = start_ + head_len_;
    std::size_t avail = end_ - body_start;
    if (x_->head.expect_continue && !sent_continue_ && avail == 0) {
        // The client waits for our go-ahead before sending the body (RFC 9110 §10.1.1).
        out_.append("HTTP/1.1 100 Continue\r\n\r\n");
        sent_continue_ = true;
        flush();
        if (phase_ == Phase::closed) {
            return false;
        }
    }
    if (x_->head.body_kind == http::BodyKind::content_length) {
        if (avail < x_->head.content_length) {
            return false;
        }
        body_encoded_len_ = static_cast<std::size_t>(x_->head.content_length);
        x_->req.set_body({buf_.get() + body_start, body_encoded_len_});
        dispatch();
        return true;
    }
    http::ParseResult r = x_->chunked.decode(buf_.get() + body_start, avail, &x_->trailers);
    if (r.status == http::ParseStatus::error) {
        respond_error(r.error);
        return true;
    }
    if (r.status == http::ParseStatus::incomplete) {
        return false;
    }
    body_encoded_len_ = r.consumed;
    x_->req.set_body({buf_.get() + body_start, x_->chunked.decoded()});
    dispatch();
    return true;
}

void Connection::dispatch() {
    if (head_moved_) {
        // The buffer moved while the body arrived: the head's views must point at its new place.
        head_moved_ = false;
        http::parse_request_head(buf_.get() + start_, head_len_, x_->head, worker_.options().limits);
    }
    worker_.count_request();
    std::string_view body = x_->req.body();
    x_->req.reset();
    x_->req.assign(x_->head, body, &x_->trailers);
    x_->req.set_remote(remote_);
    x_->req.set_tls(tls_.get());
    x_->req.set_body_stream(body_streaming_ ? this : nullptr);
    x_->req.set_received_at(request_start_);
    stop_.reset();
    x_->req.set_stop_source(&stop_);
    keep_alive_ = x_->head.keep_alive;
    is_head_request_ = x_->req.method() == http::Method::head;

    std::optional<http::Outcome> outcome = worker_.invoke_handler(x_->req);
    if (!outcome) {
        respond_problem(500, Server::Worker::kHandlerFailed);
        return;
    }
    if (outcome->ready()) {
        finish(outcome->response());  // plain handlers answer inline, without a coroutine
        return;
    }
    Task<http::Response> task = outcome->take_task();
    phase_ = Phase::handler;
    running_ = Running::coroutine;
    handler_start_ = worker_.loop().now();
    spawn(std::move(task), [this](std::optional<http::Response> r, std::exception_ptr e) { on_handler_done(std::move(r), e); });
}

void Connection::on_handler_done(std::optional<http::Response> r, std::exception_ptr e) {
    bool answered = running_ == Running::answered_coroutine;
    running_ = Running::nothing;
    if (phase_ == Phase::closed) {
        destroy_later();
        return;
    }
    if (answered || phase_ == Phase::lingering) {
        // The client already got a 503; this late answer is dropped. If the 503 is still on its
        // way (a slow reader, or an io_uring send not yet complete), the connection lingers once
        // it is out.
        if (answered && phase_ == Phase::handler) {
            phase_ = Phase::head;
            flush();
        }
        return;
    }
    phase_ = Phase::head;
    if (e) {
        worker_.report_handler_exception(e);
        respond_problem(500, Server::Worker::kHandlerFailed);
    } else {
        finish(*r);
    }
    drive();
}

void Connection::finish(http::Response& r) {
    end_streamed_body();
    if (r.is_upgrade()) {
        if (!is_head_request_ && !worker_.shutting_down() && !close_after_write_) {
            start_upgrade(r);
            return;
        }
        r = worker_.answer_problem(503, "the server is shutting down", x_->req.method_name(), x_->req.path(), remote_,
                                   x_->req.received_at());
    }
    if (r.is_stream() && !is_head_request_ && http::status_allows_body(r.status())) {
        start_stream(r);
        return;
    }
    serialize(r, false);
    if (r.has_file_body() && !is_head_request_ && http::status_allows_body(r.status())) {
        http::Response::FileRange f = r.release_file();
        file_fd_ = f.fd;
        file_offset_ = f.offset;
        file_left_ = f.length;
        if (file_left_ == 0) {
            close_file();
        }
    }
    request_done();
}

void Connection::start_stream(http::Response& r) {
    serialize(r, true);
    stream_ends_on_shutdown_ = r.ends_stream_on_shutdown();
    x_->stream_fn = std::move(r.stream_body());
    phase_ = Phase::stream;
    running_ = Running::coroutine;
    flush();
    Task<void> task;
    try {
        task = x_->stream_fn(*this);
    } catch (...) {
        on_stream_done(std::current_exception());
        return;
    }
    spawn(std::move(task), [this](std::exception_ptr e) { on_stream_done(e); });
}

void Connection::on_stream_done(std::exception_ptr e) {
    running_ = Running::nothing;
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
    if (chunked_stream_) {
        out_.append("0\r\n\r\n");
    }
    phase_ = Phase::head;
    request_done();
    drive();
}

void Connection::request_done() {
    start_ += head_len_ + body_encoded_len_;
    if (start_ >= end_) {
        start_ = end_ = 0;
    }
    head_len_ = body_encoded_len_ = 0;
    head_parsed_ = false;
    body_streaming_ = false;
    lf_scanned_ = 0;
    phase_ = Phase::head;
    first_request_ = false;
    x_->req.reset();
    x_->trailers.clear();
    request_start_ = last_activity_ = worker_.loop().now();
}

void Connection::respond_error(http::ParseError e) { respond_problem(status_for(e), describe(e)); }

void Connection::respond_problem(int status, std::string_view detail) {
    // The request line, when it was read (for the problem's instance, the log and the metric).
    std::string_view method, path;
    if (head_parsed_) {
        if (head_moved_) {
            head_moved_ = false;  // the buffer moved while the body arrived: point into its new place
            http::parse_request_head(buf_.get() + start_, head_len_, x_->head, worker_.options().limits);
        }
        method = x_->head.method;
        path = http::split_target(x_->head.target).path;
    }
    http::Response r = worker_.answer_problem(status, detail, method, path, remote_, request_start_);
    keep_alive_ = false;
    is_head_request_ = false;
    serialize(r, false);
    if (phase_ == Phase::body) {
        phase_ = Phase::head;
    }
    close_after_write_ = true;
}

void Connection::serialize(http::Response& r, bool stream) {
    if (out_.capacity() <= 15) {
        out_ = http::detail::acquire_string();  // given back when the connection went idle
    }
    Framing f = serialize_response(out_, r,
                                   {.version_minor = x_->req.version_minor(),
                                    .keep_alive = keep_alive_,
                                    .head_request = is_head_request_,
                                    .must_close = worker_.shutting_down() || close_after_write_,
                                    .date_line = worker_.date_line()},
                                   stream);
    chunked_stream_ = f.chunked;
    close_after_write_ = f.closing;
}

void Connection::close() {
    if (phase_ == Phase::closed) {
        return;
    }
    if (running_ != Running::nothing) {
        stop_.request_stop();
    }
    if (on_ring_) {
        // The kernel holds the socket until these end; the connection waits for them too.
        if (recv_armed_) {
            ring()->cancel(this, RingOp::recv);
        }
        if (send_in_flight_) {
            ring()->cancel(this, RingOp::send);
        }
        if (poll_out_armed_) {
            ring()->cancel(this, RingOp::poll);
        }
        if (ring()->forget(this)) {
            --ring_ops_;  // it waited for a buffer: there is no recv to cancel
        }
        ring()->drop(inbox_);
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
    if (running_ == Running::nothing && (!h2_ || h2_->running() == 0)) {
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
    if (destroy_scheduled_ && ring_ops_ == 0 && !delete_queued_) {
        delete_queued_ = true;  // else the last completion does it (on_complete)
        worker_.loop().defer([this] { delete this; });
    }
}

void Connection::on_tick(TimePoint now) {
    if (phase_ == Phase::closed) {
        return;
    }
    const ServerOptions& o = worker_.options();
    if (write_blocked_since_ != TimePoint{} && now - write_blocked_since_ > o.write_timeout) {
        worker_.emit(ServerEvent::Level::debug, "write timeout", remote_.to_string());
        stop_.request_stop();
        close();
        return;
    }
    if (phase_ == Phase::h2) {
        h2_->on_tick(now);
        return;
    }
    switch (phase_) {
        case Phase::head:
            if (close_after_write_ || file_left_ > 0) {
                break;  // still answering (a file body's pace is write_timeout's to judge)
            }
            if (tls_ && !tls_->handshake_done()) {
                if (now - request_start_ > o.tls_handshake_timeout) {
                    o.tls->handshake_failed(true);
                    close();  // nothing can be answered before the handshake
                }
            } else if (start_ == end_) {
                if (worker_.shutting_down() && quiet_for(kDrainIdleGrace, now)) {
                    close();  // draining: an idle connection goes once nothing is on its way
                    break;
                }
                Duration limit = first_request_ ? o.read_header_timeout : o.idle_timeout;
                TimePoint since = first_request_ ? request_start_ : last_activity_;
                if (now - since > limit) {
                    close();  // nothing of a request arrived: close quietly
                }
            } else if (now - request_start_ > o.read_header_timeout) {
                respond_problem(408, "the request header was not received in time");
                flush();
            }
            break;
        case Phase::body:
            if (now - request_start_ > o.read_timeout) {
                respond_problem(408, "the request body was not received in time");
                flush();
            }
            break;
        case Phase::handler:
            if (body_streaming_ && !body_done_ && !body_timed_out_ && now - request_start_ > o.read_timeout) {
                body_timed_out_ = true;  // read() answers 408
                wake_body_waiter();
            }
            if (o.handler_timeout > Duration::zero() && running_ == Running::coroutine &&
                now - handler_start_ > o.handler_timeout) {
                running_ = Running::answered_coroutine;
                stop_.request_stop();
                respond_problem(503, "the request took too long to process");
                flush();
            }
            break;
        case Phase::lingering:
            if (now - linger_start_ > kLingerTimeout) {
                close();
            }
            break;
        case Phase::upgraded:  // the protocol's read deadline (and write_timeout, above)
            if (upgrade_read_deadline_ != TimePoint{} && now > upgrade_read_deadline_) {
                upgrade_read_deadline_ = {};
                upgrade_read_timed_out_ = true;
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
    if (phase_ == Phase::head && start_ == end_ && !close_after_write_) {
        // Idle as far as we have read. A request may already wait in the kernel's buffer (sent
        // just before the shutdown, its event not handled yet): read first, so what arrived is
        // answered (with Connection: close) instead of cut off.
        read_drained_ = false;
        drive();
        if (quiet_for(kDrainIdleGrace, worker_.loop().now())) {
            close();  // idle for a while: no request is on its way
        }
        // Otherwise it stays open a moment, and on_tick closes it once quiet: a client that has
        // just been answered often sends its next request at once, and closing now would cut
        // that request off. Whatever arrives meanwhile is answered with Connection: close.
    }
    if (phase_ == Phase::upgraded) {
        upgrade_shutdown_pending_ = true;  // the protocol says goodbye its own way (WebSocket: 1001)
        wake_body_waiter();
        return;
    }
    if (phase_ == Phase::stream && stream_ends_on_shutdown_) {
        close_after_write_ = true;
        stop_.request_stop();  // an endless stream (SSE) ends now; the client reconnects elsewhere
    }
    // Otherwise a request is in progress: its response will carry Connection: close.
}

void Connection::release_if_idle() noexcept {
    if (phase_ != Phase::head || start_ != end_ || head_parsed_ || running_ != Running::nothing ||
        close_after_write_ || pending_out() > 0 || upgraded_ || h2_) {
        return;
    }
    if (x_) {
        worker_.give_back(std::move(x_));  // request_done() already cleared it
    }
    if (buf_) {
        if (cap_ == kReadBufferSize) {
            worker_.give_back(std::move(buf_));
        }
        buf_.reset();  // a grown buffer is freed
        cap_ = start_ = end_ = lf_scanned_ = 0;
    }
    if (out_.capacity() > 15) {
        http::detail::release_string(std::move(out_));  // serialize() takes a recycled one again
        out_ = std::string();
    }
}

bool Connection::quiet_for(Duration grace, TimePoint now) const noexcept {
    return phase_ == Phase::head && start_ == end_ && !close_after_write_ && pending_out() == 0 &&
           now - last_activity_ >= grace;
}

void Connection::force_close() {
    stop_.request_stop();
    close();
}

StopToken Connection::stop_token() const noexcept { return const_cast<StopSource&>(stop_).token(); }

}  // namespace keel::server
