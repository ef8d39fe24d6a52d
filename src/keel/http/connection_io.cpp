// Connection's socket side: filling the read buffer (growing it within the limits), sending
// the output buffer and file bodies (EPOLLOUT only while blocked), the lingering close, and the BodyWriter of
// streamed responses. The request state machine is in connection.cpp.
#include "connection.hpp"
#include "drain_awaiter.hpp"

#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace keel::http {

Connection::Fill Connection::fill() {
    const ParserLimits& limits = worker_.options().limits;
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
        if (phase_ == Phase::body && x_->head.body_kind == BodyKind::chunked) {
            // Squeeze out the chunk framing already decoded so the buffer holds about the body.
            std::size_t body_start = start_ + head_len_;
            std::size_t removed = x_->chunked.compact(buf_.get() + body_start, end_ - body_start);
            end_ -= removed;
        }
        if (end_ == cap_) {
            std::size_t limit = limits.max_header_bytes + 1024;
            if (phase_ == Phase::body) {
                limit = head_len_ + (x_->head.body_kind == BodyKind::content_length
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
    // socket no longer shows: read until it wants more.
    read_drained_ = !tls_ && n < space;
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
    for (;;) {
        ssize_t got = ::recv(fd_, buf_.get() + end_, space, 0);
        if (got > 0) {
            n = static_cast<std::size_t>(got);
            return Fill::data;
        }
        if (got == 0) {
            return Fill::eof;
        }
        if (errno == EINTR) {
            continue;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK ? Fill::again : Fill::error;
    }
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
        bool from_file = out_sent_ == out_.size();
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
                (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP | EPOLLOUT, this);
            }
            return false;
        }
        stop_.request_stop();  // EPIPE / ECONNRESET: the client is gone
        close();
        return false;
    }
    if (write_blocked_since_ != TimePoint{}) {
        write_blocked_since_ = {};
        (void)worker_.loop().modify(fd_, EPOLLIN | EPOLLRDHUP, this);
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
        ssize_t n = ::recv(fd_, sink, sizeof sink, 0);
        if (n > 0) {
            lingered_bytes_ += static_cast<std::size_t>(n);
            if (lingered_bytes_ > kMaxLingerBytes) {
                close();
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
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

}  // namespace keel::http
