// Connection's streamed request bodies (ServerOptions::stream_body): the handler runs once the
// head is read and takes the body piece by piece with read(). Only bytes the handler has not
// taken stay in the read buffer, and the buffer never moves while the handler runs (it was
// sized before the handler got its views), so memory stays bounded whatever the body's size.
#include "connection.hpp"
#include "drain_awaiter.hpp"

#include <cstring>

namespace keel::server {
// One step of the handler's read() (StreamedBodyReader): bytes after the head are handed over
// where they lie; more are read into the buffer behind them.
StreamedBodyReader::Step Connection::next_step() {
    if (!body_.streaming || phase_ != Phase::handler || run_.timed_out()) {
        return Step::refuse(400, "the request body can no longer be read");
    }
    if (body_.timed_out) {
        return Step::refuse(408, "the request body was not received in time");
    }
    release_handed_body();
    if (body_.done) {
        return Step::end();
    }
    if (x_->head.expect_continue && !rq_.sent_continue) {
        // The client waits for our go-ahead before sending the body (RFC 9110 §10.1.1).
        out_.bytes.append("HTTP/1.1 100 Continue\r\n\r\n");
        rq_.sent_continue = true;
        flush();
        return Step::again();
    }
    char* body = in_.buf.get() + in_.start + rq_.head_len;
    std::size_t avail = in_.end - in_.start - rq_.head_len;
    if (x_->head.body_kind == http::BodyKind::content_length) {
        if (body_.left == 0) {
            body_.done = true;
            return Step::end();
        }
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(avail, body_.left));
        if (n > 0) {
            body_.left -= n;
            body_.handed = n;
            return Step::give({body, n});
        }
    } else {
        http::ParseResult r = x_->chunked.decode(body, avail, &x_->trailers);
        if (r.status == http::ParseStatus::error) {
            return Step::refuse(status_for(r.error), std::string(describe(r.error)));
        }
        std::size_t fresh = x_->chunked.decoded() - body_.chunks_handed;
        if (fresh > 0) {
            std::string_view piece(body + body_.chunks_handed, fresh);
            body_.chunks_handed = x_->chunked.decoded();
            return Step::give(piece);
        }
        if (r.status == http::ParseStatus::complete) {
            body_.done = true;
            rq_.body_len = r.consumed;  // what is left of the body in the buffer (trailers)
            return Step::end();
        }
    }
    switch (read_streamed_body()) {
        case Fill::data:
            return Step::again();
        case Fill::again:
            return Step::wait();
        case Fill::full:
            return Step::refuse(431, "the request's trailer fields are too large");
        case Fill::eof:
        case Fill::error:
            break;
    }
    return Step::refuse(400, "the client closed the connection before the whole body arrived");
}

void Connection::release_handed_body() {
    char* body = in_.buf.get() + in_.start + rq_.head_len;
    if (body_.handed > 0) {
        std::memmove(body, body + body_.handed, in_.end - in_.start - rq_.head_len - body_.handed);
        in_.end -= body_.handed;
        body_.handed = 0;
    }
    if (body_.chunks_handed > 0) {
        std::size_t shrunk = x_->chunked.discard_decoded(body, in_.end - in_.start - rq_.head_len);
        if (shrunk > 0) {
            in_.end -= shrunk;
            body_.chunks_handed = 0;
        }
    }
}

Connection::Fill Connection::read_streamed_body() {
    std::size_t space = in_.cap - in_.end;
    if (space == 0) {
        return Fill::full;
    }
    std::size_t n = 0;
    if (Fill f = receive_into_buffer(space, n); f != Fill::data) {
        return f;
    }
    in_.end += n;
    worker_.count_in(n);
    last_activity_ = worker_.loop().now();
    return Fill::data;
}

void Connection::end_streamed_body() {
    if (!body_.streaming) {
        return;
    }
    release_handed_body();
    if (x_->head.body_kind == http::BodyKind::content_length && body_.left == 0) {
        body_.done = true;
    }
    if (!body_.done) {
        // The handler answered without reading the whole body: the rest is not worth reading to
        // find the next request. The response says Connection: close.
        rq_.keep_alive = false;
    }
    body_.streaming = false;
    wake_body_waiter();
}

}  // namespace keel::server
