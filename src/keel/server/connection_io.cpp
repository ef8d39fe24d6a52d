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
    if (!buf_) {
        buf_ = worker_.take_buffer();
        cap_ = kReadBufferSize;
    }
    if (end_ == cap_) {
        if (start_ > 0) {
            std::memmove(buf_.get(), buf_.get() + start_, end_ - start_);
            end_ -= start_;
            start_ = 0;
            head_moved_ = phase_ == Phase::body;
        }
        if (phase_ == Phase::body && x_->head.body_kind == http::BodyKind::chunked) {
            // Squeeze out the chunk framing already decoded so the buffer holds about the body.
            std::size_t body_start = start_ + head_len_;
            std::size_t removed = x_->chunked.compact(buf_.get() + body_start, end_ - body_start);
            end_ -= removed;
        }
        if (end_ == cap_) {
            std::size_t limit = limits.max_header_bytes + 1024;
            if (phase_ == Phase::body) {
                limit = head_len_ + (x_->head.body_kind == http::BodyKind::content_length
                                         ? static_cast<std::size_t>(x_->head.content_length)
                                         : static_cast<std::size_t>(limits.max_body_bytes) + kChunkSlack);
            }
            if (cap_ >= limit) {
                return Fill::full;
            }
            std::size_t new_cap = std::min(std::max(cap_ * 2, kInitialBuffer), limit);
            std::unique_ptr<char[]> bigger(new char[new_cap]);
            std::memcpy(bigger.get(), buf_.get(), end_);
            buf_ = std::move(bigger);
            cap_ = new_cap;
            head_moved_ = phase_ == Phase::body;
        }
    }
    bool was_empty = start_ == end_;
    std::size_t space = cap_ - end_;
    std::size_t n = 0;
    if (Fill f = receive_into_buffer(space, n); f != Fill::data) {
        return f;
    }
    end_ += n;
    worker_.count_in(n);
    // With edge-triggered epoll a short read means the socket is empty now: reading again would
    // only return EAGAIN (one syscall per request saved). TLS may hold decrypted bytes the
    // socket no longer shows: read until it wants more. On io_uring the next completion is the
    // edge, as long as a recv is armed to bring it.
    read_drained_ = !tls_ && n < space && (!on_ring_ || recv_armed_);
    last_activity_ = worker_.loop().now();
    if (was_empty && phase_ == Phase::head) {
        request_start_ = last_activity_;
    }
    return Fill::data;
}

Connection::Fill Connection::receive_into_buffer(std::size_t space, std::size_t& n) {
    if (tls_) {
        return fill_tls(space, n);
    }
    ssize_t got = receive_raw(buf_.get() + end_, space);
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
    if (!on_ring_) {
        for (;;) {
            ssize_t got = ::recv(fd_, dst, n, 0);
            if (got >= 0 || errno != EINTR) {
                return got;
            }
        }
    }
    if (std::size_t got = ring()->take(inbox_, dst, n); got > 0) {
        return static_cast<ssize_t>(got);
    }
    if (recv_ended_) {
        return 0;
    }
    if (recv_failed_) {
        errno = ECONNRESET;
        return -1;
    }
    if (!recv_armed_ && fd_ >= 0) {
        arm_recv();  // it was cancelled while the inbox was full
    }
    errno = EAGAIN;
    return -1;
}

// ---------------------------------------------------------------------------- io_uring

void Connection::start_ring() {
    on_ring_ = true;
    arm_recv();
}

void Connection::arm_recv() {
    ring()->recv(fd_, this);
    recv_armed_ = true;
    ++ring_ops_;
}

void Connection::on_complete(RingOp op, int result, std::uint32_t flags) {
    bool more = IoRing::more(flags);
    if (!more) {
        --ring_ops_;
    }
    switch (op) {
        case RingOp::recv:
            on_received(result, flags, more);
            break;
        case RingOp::send:
            on_sent(result);
            break;
        case RingOp::poll:
            poll_out_armed_ = false;
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
        recv_armed_ = false;
    }
    if (result > 0) {
        ring()->hold(inbox_, flags, static_cast<std::size_t>(result));
        if (phase_ == Phase::closed) {
            ring()->drop(inbox_);
            return;
        }
        if (more && ring()->held(inbox_) == kMaxHeldBuffers) {
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
        recv_armed_ = true;
        ++ring_ops_;
        return;
    }
    if (result == 0) {
        recv_ended_ = true;
        on_io(EPOLLIN | EPOLLRDHUP);
    } else if (result == -ECANCELED) {
        on_io(EPOLLIN);  // our cancel: what the inbox holds (and a new recv) is fill()'s
    } else {
        recv_failed_ = true;
        on_io(EPOLLERR);
    }
}

void Connection::on_sent(int result) {
    send_in_flight_ = false;
    if (result < 0) {
        if (phase_ != Phase::closed) {
            stop_.request_stop();  // EPIPE / ECONNRESET: the client is gone
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
    if (pending_out() == 0 && phase_ == Phase::head && start_ == end_ && inbox_.empty() && !close_after_write_ &&
        !drain_waiter_) {
        // The common case: a response went out and nothing waited for it. The request loop is
        // already waiting for the next bytes; only the write clock and the buffers are left.
        flush();
        release_if_idle();
        return;
    }
    on_io(EPOLLOUT);  // the rest of the output, the next response, or the lingering close
}

ssize_t Connection::ring_send() {
    if (send_in_flight_) {
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
        wire.swap(out_);  // out_ keeps the old wire's room for what comes next
        out_sent_ = 0;
    }
    ring()->send(fd_, wire.data() + x_->wire_sent, wire.size() - x_->wire_sent, this);
    send_in_flight_ = true;
    ++ring_ops_;
    return 0;
}

Connection::Fill Connection::fill_tls(std::size_t space, std::size_t& n) {
    auto io = tls_->read(buf_.get() + end_, space);
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
        auto io = tls_->write(out_.data() + out_sent_, out_.size() - out_sent_);
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
    if (on_ring_) {
        return ring_send();
    }
    for (;;) {
        ssize_t n = ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
        if (n >= 0 || errno != EINTR) {
            return n > 0 ? n : (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? 0 : -1;
        }
    }
}

ssize_t Connection::send_file_some() {
    for (;;) {
        off_t offset = static_cast<off_t>(file_offset_);
        ssize_t n = ::sendfile(fd_, file_fd_, &offset, std::min<std::size_t>(file_left_, 1 << 30));
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
    out_.resize(std::min(file_left_, kPiece));
    out_sent_ = 0;
    for (;;) {
        ssize_t n = ::pread(file_fd_, out_.data(), out_.size(), static_cast<off_t>(file_offset_));
        if (n > 0) {
            out_.resize(static_cast<std::size_t>(n));
            file_offset_ += static_cast<std::uint64_t>(n);
            file_left_ -= static_cast<std::size_t>(n);
            if (file_left_ == 0) {
                close_file();
            }
            return true;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        out_.clear();
        return false;  // an I/O error, or a file that got shorter
    }
}

void Connection::close_file() noexcept {
    if (file_fd_ >= 0) {
        ::close(file_fd_);
        file_fd_ = -1;
    }
    file_left_ = 0;
}

bool Connection::flush() {
    while (pending_out() > 0) {
        bool from_file = out_sent_ == out_.size() && wire_pending() == 0;
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
                file_offset_ += static_cast<std::uint64_t>(n);
                file_left_ -= static_cast<std::size_t>(n);
                if (file_left_ == 0) {
                    close_file();
                }
            } else {
                out_sent_ += static_cast<std::size_t>(n);
            }
            worker_.count_out(static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {
            if (write_blocked_since_ == TimePoint{}) {
                write_blocked_since_ = worker_.loop().now();
                // Ask for EPOLLOUT only now: watching it all the time wakes the loop on every ACK.
                // (io_uring: the send's completion is the wake-up.)
                if (!on_ring_) {
                    (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP | EPOLLOUT, this);
                }
            }
            if (on_ring_ && from_file && !poll_out_armed_) {
                ring()->poll(fd_, POLLOUT, this);  // sendfile found the socket full
                poll_out_armed_ = true;
                ++ring_ops_;
            }
            return false;
        }
        stop_.request_stop();  // EPIPE / ECONNRESET: the client is gone
        close();
        return false;
    }
    if (write_blocked_since_ != TimePoint{}) {
        write_blocked_since_ = {};
        if (!on_ring_) {
            (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP, this);
        }
    }
    if (out_.capacity() > 1024 * 1024) {
        std::string().swap(out_);  // do not keep a huge buffer per idle connection
    } else {
        out_.clear();
    }
    out_sent_ = 0;
    if (close_after_write_ && (phase_ == Phase::head || running_ == Running::answered_coroutine)) {
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
        linger_start_ = worker_.loop().now();
    }
    char sink[4096];
    for (;;) {
        ssize_t n = receive_raw(sink, sizeof sink);
        if (n > 0) {
            lingered_bytes_ += static_cast<std::size_t>(n);
            if (lingered_bytes_ > kMaxLingerBytes) {
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
    if (phase_ == Phase::closed || stop_.stop_requested()) {
        co_return false;
    }
    if (!data.empty()) {
        if (chunked_stream_) {
            char size[20];
            auto [end, ec] = std::to_chars(size, size + sizeof size, data.size(), 16);
            out_.append(size, static_cast<std::size_t>(end - size));
            out_.append("\r\n");
            out_.append(data);
            out_.append("\r\n");
        } else {
            out_.append(data);
        }
        flush();
    }
    while (phase_ != Phase::closed && pending_out() > kHighWater) {
        co_await DrainAwaiter{&drain_waiter_};
    }
    co_return phase_ != Phase::closed;
}

void Connection::wake_drain_waiter() {
    if (drain_waiter_ && (phase_ == Phase::closed || pending_out() <= kHighWater)) {
        auto h = std::exchange(drain_waiter_, {});
        worker_.loop().defer([h] { h.resume(); });
    }
}

}  // namespace keel::server
