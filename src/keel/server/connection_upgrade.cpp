// Connection after a 101 Switching Protocols: the UpgradeHandler reads and writes raw bytes
// through Connection::Upgraded until it returns; then the connection closes (lingering, so the
// last bytes are read by the client). The read buffer is the connection's own, handed out whole.
#include "connection.hpp"
#include "drain_awaiter.hpp"

namespace keel::server {

void Connection::start_upgrade(http::Response& r) {
    serialize(r, false);  // the 101 head; no body, no Connection: close (checked by finish)
    // Bytes after the request (a first frame sent at once) belong to the new protocol.
    start_ += head_len_ + body_encoded_len_;
    head_len_ = body_encoded_len_ = 0;
    upgrade_fn_ = std::move(r.upgrade_handler());
    upgraded_ = std::make_unique<Upgraded>(*this);
    phase_ = Phase::upgraded;
    running_ = Running::coroutine;
    flush();
    Task<void> task;
    try {
        task = upgrade_fn_(*upgraded_);
    } catch (...) {
        on_upgrade_done(std::current_exception());
        return;
    }
    spawn(std::move(task), [this](std::exception_ptr e) { on_upgrade_done(e); });
}

void Connection::on_upgrade_done(std::exception_ptr e) {
    running_ = Running::nothing;
    upgrade_fn_ = nullptr;
    if (phase_ == Phase::closed) {
        destroy_later();
        return;
    }
    if (e) {
        worker_.emit(ServerEvent::Level::error, "upgraded connection handler threw", "");
    }
    // The protocol is over: send what is left, then close (never back to HTTP).
    start_ = end_ = 0;
    close_after_write_ = true;
    phase_ = Phase::head;
    flush();  // lingers once everything is out (now, or on EPOLLOUT)
}

void Connection::Upgraded::report(std::string_view event, std::string_view detail) const {
    c_.worker_.emit(ServerEvent::Level::warn, event, std::string(detail) + " (client " + c_.remote_.to_string() + ")");
}

Task<Result<std::string_view>> Connection::upgraded_read() {
    if (++reads_in_a_row_ >= kAwaitsBeforeReschedule) {
        reads_in_a_row_ = 0;
        co_await Reschedule{worker_.loop()};
    }
    for (;;) {
        if (phase_ != Phase::upgraded) {
            co_return Error(Errc::closed, "the connection is closed");
        }
        if (upgrade_shutdown_pending_) {
            upgrade_shutdown_pending_ = false;
            co_return Error(Errc::cancelled, "the server is shutting down");
        }
        if (upgrade_read_timed_out_) {
            upgrade_read_timed_out_ = false;
            co_return Error(Errc::timeout, "the read deadline passed");
        }
        if (start_ < end_) {
            std::string_view bytes(buf_.get() + start_, end_ - start_);
            start_ = end_;  // handed over: valid until the next read() reuses the buffer
            co_return bytes;
        }
        start_ = end_ = 0;
        switch (read_streamed_body()) {
            case Fill::data:
                continue;
            case Fill::again:
                reads_in_a_row_ = 0;
                co_await DrainAwaiter{&body_waiter_};
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
