// Connection's streamed request bodies (ServerOptions::stream_body): the handler runs once the
// head is read and takes the body piece by piece with read(). Only bytes the handler has not
// taken stay in the read buffer, and the buffer never moves while the handler runs (it was
// sized before the handler got its views), so memory stays bounded whatever the body's size.
#include "connection.hpp"
#include "drain_awaiter.hpp"

#include <cstring>

namespace keel::server {
Task<Result<std::string_view, http::Problem>> Connection::read() {
    if (++reads_in_a_row_ >= kAwaitsBeforeReschedule) {
        reads_in_a_row_ = 0;
        co_await Reschedule{worker_.loop()};
    }
    for (;;) {
        if (!body_streaming_ || phase_ != Phase::handler || running_ == Running::answered_coroutine) {
            co_return http::Problem{.status = 400, .detail = "the request body can no longer be read"};
        }
        if (body_timed_out_) {
            co_return http::Problem{.status = 408, .detail = "the request body was not received in time"};
        }
        release_handed_body();
        if (body_done_) {
            co_return std::string_view{};
        }
        if (x_->head.expect_continue && !sent_continue_) {
            // The client waits for our go-ahead before sending the body (RFC 9110 §10.1.1).
            out_.append("HTTP/1.1 100 Continue\r\n\r\n");
            sent_continue_ = true;
            flush();
            continue;
        }
        char* body = buf_.get() + start_ + head_len_;
        std::size_t avail = end_ - start_ - head_len_;
        if (x_->head.body_kind == http::BodyKind::content_length) {
            if (body_left_ == 0) {
                body_done_ = true;
                co_return std::string_view{};
            }
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(avail, body_left_));
            if (n > 0) {
                body_left_ -= n;
                body_handed_ = n;
                co_return std::string_view(body, n);
            }
        } else {
            http::ParseResult r = x_->chunked.decode(body, avail, &x_->trailers);
            if (r.status == http::ParseStatus::error) {
                co_return http::Problem{.status = status_for(r.error), .detail = std::string(describe(r.error))};
            }
            std::size_t fresh = x_->chunked.decoded() - chunks_handed_;
            if (fresh > 0) {
                std::string_view piece(body + chunks_handed_, fresh);
                chunks_handed_ = x_->chunked.decoded();
                co_return piece;
            }
            if (r.status == http::ParseStatus::complete) {
                body_done_ = true;
                body_encoded_len_ = r.consumed;  // what is left of the body in the buffer (trailers)
                co_return std::string_view{};
            }
        }
        switch (read_streamed_body()) {
            case Fill::data:
                continue;
            case Fill::again:
                reads_in_a_row_ = 0;
                co_await DrainAwaiter{&body_waiter_};
                continue;
            case Fill::full:
                co_return http::Problem{.status = 431, .detail = "the request's trailer fields are too large"};
            case Fill::eof:
            case Fill::error:
                break;
        }
        co_return http::Problem{.status = 400, .detail = "the client closed the connection before the whole body arrived"};
    }
}

void Connection::release_handed_body() {
    char* body = buf_.get() + start_ + head_len_;
    if (body_handed_ > 0) {
        std::memmove(body, body + body_handed_, end_ - start_ - head_len_ - body_handed_);
        end_ -= body_handed_;
        body_handed_ = 0;
    }
    if (chunks_handed_ > 0) {
        std::size_t shrunk = x_->chunked.discard_decoded(body, end_ - start_ - head_len_);
        if (shrunk > 0) {
            end_ -= shrunk;
            chunks_handed_ = 0;
        }
    }
}

Connection::Fill Connection::read_streamed_body() {
    std::size_t space = cap_ - end_;
    if (space == 0) {
        return Fill::full;
    }
    std::size_t n = 0;
    if (Fill f = receive_into_buffer(space, n); f != Fill::data) {
        return f;
    }
    end_ += n;
    worker_.count_in(n);
    last_activity_ = worker_.loop().now();
    return Fill::data;
}

void Connection::end_streamed_body() {
    if (!body_streaming_) {
        return;
    }
    release_handed_body();
    if (x_->head.body_kind == http::BodyKind::content_length && body_left_ == 0) {
        body_done_ = true;
    }
    if (!body_done_) {
        // The handler answered without reading the whole body: the rest is not worth reading to
        // find the next request. The response says Connection: close.
        keep_alive_ = false;
    }
    body_streaming_ = false;
    wake_body_waiter();
}

void Connection::wake_body_waiter() {
    if (body_waiter_) {
        auto h = std::exchange(body_waiter_, {});
        worker_.loop().defer([h] { h.resume(); });
    }
}

}  // namespace keel::server
