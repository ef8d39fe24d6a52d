// Connection after a 101 Switching Protocols: the UpgradeHandler reads and writes raw bytes
// through Connection::Upgraded until it returns; then the connection closes (lingering, so the
// last bytes are read by the client). The read buffer is the connection's own, handed out whole.
#include "connection.hpp"
#include "drain_awaiter.hpp"

namespace keel::server {

void Connection::start_upgrade(http::Response& r) {
    serialize(r, false);  // the 101 head; no body, no Connection: close (checked by finish)
    // Bytes after the request (a first frame sent at once) belong to the new protocol.
    in_.start += rq_.head_len + rq_.body_len;
    rq_.head_len = rq_.body_len = 0;
    up_.fn = std::move(r.upgrade_handler());
    up_.stream = std::make_unique<Upgraded>(*this);
    phase_ = Phase::upgraded;
    response_coroutine_ = true;
    flush();
    start_response_coroutine([this] { return up_.fn(*up_.stream); },
                             [this](std::exception_ptr e) { on_upgrade_done(e); });
}

void Connection::on_upgrade_done(std::exception_ptr e) {
    response_coroutine_ = false;
    up_.fn = nullptr;
    if (phase_ == Phase::closed) {
        destroy_later();
        return;
    }
    if (e) {
        worker_.emit(ServerEvent::Level::error, "upgraded connection handler threw", "");
    }
    // The protocol is over: send what is left, then close (never back to HTTP).
    in_.start = in_.end = 0;
    out_.close_after = true;
    phase_ = Phase::head;
    flush();  // lingers once everything is out (now, or on EPOLLOUT)
}

void Connection::Upgraded::report(std::string_view event, std::string_view detail) const {
    c_.worker_.emit(ServerEvent::Level::warn, event, std::string(detail) + " (client " + c_.remote_.to_string() + ")");
}

Task<Result<std::string_view>> Connection::upgraded_read() {
    co_await pacing_.next(worker_.loop());
    for (;;) {
        if (phase_ != Phase::upgraded) {
            co_return Error(Errc::closed, "the connection is closed");
        }
        if (up_.shutdown_pending) {
            up_.shutdown_pending = false;
            co_return Error(Errc::cancelled, "the server is shutting down");
        }
        if (up_.read_timed_out) {
            up_.read_timed_out = false;
            co_return Error(Errc::timeout, "the read deadline passed");
        }
        if (in_.start < in_.end) {
            std::string_view bytes(in_.buf.get() + in_.start, in_.end - in_.start);
            in_.start = in_.end;  // handed over: valid until the next read() reuses the buffer
            co_return bytes;
        }
        in_.start = in_.end = 0;
        switch (read_streamed_body()) {
            case Fill::data:
                continue;
            case Fill::again:
                pacing_.waited();
                co_await DrainAwaiter{&waiter_};
                continue;
            case Fill::eof:
                co_return std::string_view{};
            case Fill::full:
            case Fill::error:
                break;
        }
        co_return Error(Errc::closed, "the connection is closed");
    }
}

}  // namespace keel::server
