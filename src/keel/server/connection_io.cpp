// Connection's socket side: filling the read buffer (growing it within the limits), sending
// the output buffer and file bodies (EPOLLOUT only while blocked), the lingering close, the
// io_uring completions, and the BodyWriter of streamed responses. The request state machine is
// in connection.cpp.
#include "connection.hpp"
#include "drain_awaiter.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace keel::server {

Connection::Fill Connection::fill() {
    const http::ParserLimits& limits = worker_.options().limits;
    if (!in_.buf) {
        in_.buf = worker_.take_buffer();
        in_.cap = kReadBufferSize;
    }
    if (in_.end == in_.cap) {
        if (in_.start > 0) {
            std::memmove(in_.buf.get(), in_.buf.get() + in_.start, in_.end - in_.start);
            in_.end -= in_.start;
            in_.start = 0;
            rq_.head_moved = phase_ == Phase::body;
        }
        if (phase_ == Phase::body && x_->head.body_kind == http::BodyKind::chunked) {
            // Squeeze out the chunk framing already decoded so the buffer holds about the body.
            std::size_t body_start = in_.start + rq_.head_len;
            std::size_t removed = x_->chunked.compact(in_.buf.get() + body_start, in_.end - body_start);
            in_.end -= removed;
        }
        if (in_.end == in_.cap) {
            std::size_t limit = limits.max_header_bytes + 1024;
            if (phase_ == Phase::body) {
                limit = rq_.head_len + (x_->head.body_kind == http::BodyKind::content_length
                                            ? static_cast<std::size_t>(x_->head.content_length)
                                            : static_cast<std::size_t>(limits.max_body_bytes) + kChunkSlack);
            }
            if (in_.cap >= limit) {
                return Fill::full;
            }
            std::size_t new_cap = std::min(std::max(in_.cap * 2, kInitialBuffer), limit);
            std::unique_ptr<char[]> bigger(new char[new_cap]);
            std::memcpy(bigger.get(), in_.buf.get(), in_.end);
            in_.buf = std::move(bigger);
            in_.cap = new_cap;
            rq_.head_moved = phase_ == Phase::body;
        }
    }
    bool was_empty = in_.start == in_.end;
    std::size_t space = in_.cap - in_.end;
    std::size_t n = 0;
    if (Fill f = receive_into_buffer(space, n); f != Fill::data) {
        return f;
    }
    in_.end += n;
    worker_.count_in(n);
    // With edge-triggered epoll a short read means the socket is empty now: reading again would
    // only return EAGAIN (one syscall per request saved). TLS may hold decrypted bytes the
    // socket no longer shows: read until it wants more. On io_uring the next completion is the
    // edge, as long as a recv is armed to bring it.
    in_.drained = !tls_ && n < space && (!ring_io_.on || ring_io_.recv_armed);
    last_activity_ = worker_.loop().now();
    if (was_empty && phase_ == Phase::head) {
        rq_.started = last_activity_;
    }
    return Fill::data;
}

Connection::Fill Connection::receive_into_buffer(std::size_t space, std::size_t& n) {
    if (tls_) {
        return fill_tls(space, n);
    }
    ssize_t got = receive_raw(in_.buf.get() + in_.end, space);
    if (got > 0) {
        n = static_cast<std::size_t>(got);
        return Fill::data;
    }
    if (got == 0) {
        return Fill::eof;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK ? Fill::again : Fill::error;
}

ssize_t Connection::receive_raw(char* dst, std::size_t n) {
    if (!ring_io_.on) {
        for (;;) {
            ssize_t got = ::recv(fd_, dst, n, 0);
            if (got >= 0 || errno != EINTR) {
                return got;
            }
        }
    }
    if (std::size_t got = ring()->take(ring_io_.inbox, dst, n); got > 0) {
        return static_cast<ssize_t>(got);
    }
    if (ring_io_.recv_ended) {
        return 0;
    }
    if (ring_io_.recv_failed) {
        errno = ECONNRESET;
        return -1;
    }
    if (!ring_io_.recv_armed && fd_ >= 0) {
        arm_recv();  // it was cancelled while the inbox was full
    }
    errno = EAGAIN;
    return -1;
}

// ---------------------------------------------------------------------------- io_uring

void Connection::start_ring() {
    ring_io_.on = true;
    arm_recv();
}

void Connection::arm_recv() {
    ring()->recv(fd_, this);
    ring_io_.recv_armed = true;
    ++ring_io_.ops;
}

void Connection::on_complete(RingOp op, int result, std::uint32_t flags) {
    bool more = IoRing::more(flags);
    if (!more) {
        --ring_io_.ops;
    }
    switch (op) {
        case RingOp::recv:
            on_received(result, flags, more);
            break;
        case RingOp::send:
            on_sent(result);
            break;
        case RingOp::poll:
            ring_io_.poll_out_armed = false;
            on_io(result > 0 ? static_cast<std::uint32_t>(result) : EPOLLERR);
            break;
        case RingOp::accept:
            break;
    }
    if (!more) {
        delete_when_done();  // a closed connection goes once the kernel is done with it
    }
}

void Connection::on_received(int result, std::uint32_t flags, bool more) {
    if (!more) {
        ring_io_.recv_armed = false;
    }
    if (result > 0) {
        ring()->hold(ring_io_.inbox, flags, static_cast<std::size_t>(result));
        if (phase_ == Phase::closed) {
            ring()->drop(ring_io_.inbox);
            return;
        }
        if (more && ring()->held(ring_io_.inbox) == kMaxHeldBuffers) {
            ring()->cancel(this, RingOp::recv);  // fill() arms it again once the inbox is read
        }
        on_io(EPOLLIN);
        return;
    }
    if (phase_ == Phase::closed) {
        return;  // the end of a recv cancelled by close()
    }
    if (result == -ENOBUFS) {
        // Every buffer is held by some connection: the bytes wait in the socket until one is
        // given back.
        ring()->recv_when_buffers_return(fd_, this);
        ring_io_.recv_armed = true;
        ++ring_io_.ops;
        return;
    }
    if (result == 0) {
        ring_io_.recv_ended = true;
        on_io(EPOLLIN | EPOLLRDHUP);
    } else if (result == -ECANCELED) {
        on_io(EPOLLIN);  // our cancel: what the inbox holds (and a new recv) is fill()'s
    } else {
        ring_io_.recv_failed = true;
        on_io(EPOLLERR);
    }
}

void Connection::on_sent(int result) {
    ring_io_.send_in_flight = false;
    if (result < 0) {
        if (phase_ != Phase::closed) {
            run_.stop().request_stop();  // EPIPE / ECONNRESET: the client is gone
            close();
        }
        return;
    }
    std::string& wire = x_->wire;
    x_->wire_sent += static_cast<std::size_t>(result);
    worker_.count_out(static_cast<std::size_t>(result));
    if (x_->wire_sent == wire.size()) {
        if (wire.capacity() > 1024 * 1024) {
            std::string().swap(wire);
        }
        wire.clear();
        x_->wire_sent = 0;
    }
    if (pending_out() == 0 && phase_ == Phase::head && in_.start == in_.end && ring_io_.inbox.empty() &&
        !out_.close_after && !out_.drain_waiter) {
        // The common case: a response went out and nothing waited for it. The request loop is
        // already waiting for the next bytes; only the write clock and the buffers are left.
        flush();
        release_if_idle();
        return;
    }
    on_io(EPOLLOUT);  // the rest of the output, the next response, or the lingering close
}

ssize_t Connection::ring_send() {
    if (ring_io_.send_in_flight) {
        return 0;  // its completion sends the rest
    }
    if (fd_ < 0) {
        return -1;
    }
    if (!x_) {
        x_ = worker_.take_exchange();
    }
    std::string& wire = x_->wire;
    if (x_->wire_sent == wire.size()) {
        wire.clear();
        x_->wire_sent = 0;
        wire.swap(out_.bytes);  // out_.bytes keeps the old wire's room for what comes next
        out_.sent = 0;
    }
    ring()->send(fd_, wire.data() + x_->wire_sent, wire.size() - x_->wire_sent, this);
    ring_io_.send_in_flight = true;
    ++ring_io_.ops;
    return 0;
}

Connection::Fill Connection::fill_tls(std::size_t space, std::size_t& n) {
    auto io = tls_->read(in_.buf.get() + in_.end, space);
    switch (io.status) {
        case SecureChannel::Status::ok:
            n = io.bytes;
            return Fill::data;
        case SecureChannel::Status::want_read:
            return Fill::again;
        case SecureChannel::Status::want_write:
            await_tls_writable();
            return Fill::again;
        case SecureChannel::Status::eof:
            if (!tls_->handshake_done()) {
                worker_.options().tls->handshake_failed(false);
            }
            return Fill::eof;
        case SecureChannel::Status::error:
            break;
    }
    if (!tls_->handshake_done()) {
        worker_.options().tls->handshake_failed(false);
    }
    return Fill::error;
}

void Connection::await_tls_writable() {
    if (!tls_wants_write_) {
        tls_wants_write_ = true;
        (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP | EPOLLOUT, this);
    }
}

// One send of the pending output: bytes sent (> 0), 0 when the socket is full, -1 when the
// connection is broken.
ssize_t Connection::send_some() {
    if (tls_) {
        auto io = tls_->write(out_.bytes.data() + out_.sent, out_.bytes.size() - out_.sent);
        switch (io.status) {
            case SecureChannel::Status::ok:
                return static_cast<ssize_t>(io.bytes);
            case SecureChannel::Status::want_write:
            case SecureChannel::Status::want_read:  // a TLS 1.3 key update: EPOLLIN brings it
                return 0;
            case SecureChannel::Status::eof:
            case SecureChannel::Status::error:
                return -1;
        }
    }
    if (ring_io_.on) {
        return ring_send();
    }
    for (;;) {
        ssize_t n = ::send(fd_, out_.bytes.data() + out_.sent, out_.bytes.size() - out_.sent, MSG_NOSIGNAL);
        if (n >= 0 || errno != EINTR) {
            return n > 0 ? n : (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? 0 : -1;
        }
    }
}

ssize_t Connection::send_file_some() {
    for (;;) {
        off_t offset = static_cast<off_t>(out_.file_offset);
        ssize_t n = ::sendfile(fd_, out_.file_fd, &offset, std::min<std::size_t>(out_.file_left, 1 << 30));
        if (n > 0) {
            return n;
        }
        if (n == 0) {
            return -1;  // the file got shorter than its Content-Length: nothing can mend that
        }
        if (errno != EINTR) {
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }
    }
}

bool Connection::refill_from_file() {
    constexpr std::size_t kPiece = 64 * 1024;
    out_.bytes.resize(std::min(out_.file_left, kPiece));
    out_.sent = 0;
    for (;;) {
        ssize_t n = ::pread(out_.file_fd, out_.bytes.data(), out_.bytes.size(), static_cast<off_t>(out_.file_offset));
        if (n > 0) {
            out_.bytes.resize(static_cast<std::size_t>(n));
            out_.file_offset += static_cast<std::uint64_t>(n);
            out_.file_left -= static_cast<std::size_t>(n);
            if (out_.file_left == 0) {
                close_file();
            }
            return true;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        out_.bytes.clear();
        return false;  // an I/O error, or a file that got shorter
    }
}

void Connection::close_file() noexcept {
    if (out_.file_fd >= 0) {
        ::close(out_.file_fd);
        out_.file_fd = -1;
    }
    out_.file_left = 0;
}

bool Connection::flush() {
    while (pending_out() > 0) {
        bool from_file = out_.sent == out_.bytes.size() && wire_pending() == 0;
        if (from_file && tls_) {
            if (!refill_from_file()) {
                close();
                return false;
            }
            continue;
        }
        ssize_t n = from_file ? send_file_some() : send_some();
        if (n > 0) {
            if (from_file) {
                out_.file_offset += static_cast<std::uint64_t>(n);
                out_.file_left -= static_cast<std::size_t>(n);
                if (out_.file_left == 0) {
                    close_file();
                }
            } else {
                out_.sent += static_cast<std::size_t>(n);
            }
            worker_.count_out(static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {
            if (out_.blocked_since == TimePoint{}) {
                out_.blocked_since = worker_.loop().now();
                // Ask for EPOLLOUT only now: watching it all the time wakes the loop on every ACK.
                // (io_uring: the send's completion is the wake-up.)
                if (!ring_io_.on) {
                    (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP | EPOLLOUT, this);
                }
            }
            if (ring_io_.on && from_file && !ring_io_.poll_out_armed) {
                ring()->poll(fd_, POLLOUT, this);  // sendfile found the socket full
                ring_io_.poll_out_armed = true;
                ++ring_io_.ops;
            }
            return false;
        }
        run_.stop().request_stop();  // EPIPE / ECONNRESET: the client is gone
        close();
        return false;
    }
    if (out_.blocked_since != TimePoint{}) {
        out_.blocked_since = {};
        if (!ring_io_.on) {
            (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP, this);
        }
    }
    if (out_.bytes.capacity() > 1024 * 1024) {
        std::string().swap(out_.bytes);  // do not keep a huge buffer per idle connection
    } else {
        out_.bytes.clear();
    }
    out_.sent = 0;
    if (out_.close_after && (phase_ == Phase::head || run_.timed_out())) {
        start_lingering();
        return false;
    }
    return true;
}

void Connection::start_lingering() {
    if (phase_ != Phase::lingering) {
        if (tls_) {
            tls_->close_notify();
        }
        ::shutdown(fd_, SHUT_WR);
        phase_ = Phase::lingering;
        linger_.since = worker_.loop().now();
    }
    char sink[4096];
    for (;;) {
        ssize_t n = receive_raw(sink, sizeof sink);
        if (n > 0) {
            linger_.bytes += static_cast<std::size_t>(n);
            if (linger_.bytes > kMaxLingerBytes) {
                close();
                return;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;  // wait for EOF or the linger timeout
        }
        close();  // EOF or error
        return;
    }
}

Task<bool> Connection::write(std::string_view data) {
    if (phase_ == Phase::closed || run_.stop().stop_requested()) {
        co_return false;
    }
    if (!data.empty()) {
        if (out_.chunked) {
            char size[20];
            auto [end, ec] = std::to_chars(size, size + sizeof size, data.size(), 16);
            out_.bytes.append(size, static_cast<std::size_t>(end - size));
            out_.bytes.append("\r\n");
            out_.bytes.append(data);
            out_.bytes.append("\r\n");
        } else {
            out_.bytes.append(data);
        }
        flush();
    }
    while (phase_ != Phase::closed && pending_out() > kHighWater) {
        co_await DrainAwaiter{&out_.drain_waiter};
    }
    co_return phase_ != Phase::closed;
}

void Connection::wake_drain_waiter() {
    if (out_.drain_waiter && (phase_ == Phase::closed || pending_out() <= kHighWater)) {
        auto h = std::exchange(out_.drain_waiter, {});
        worker_.loop().defer([h] { h.resume(); });
    }
}

}  // namespace keel::server
