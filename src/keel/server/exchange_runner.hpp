#pragma once
// The request's life once the protocol has read it: the one place where a handler is invoked
// (a plain one answers inline, a coroutine is spawned), where the handler deadline turns into a
// 503 (the late answer is then dropped), where an exception becomes a 500, and where requests
// are counted. An HTTP/1 connection runs one exchange at a time through it, an HTTP/2 session
// one per stream. What differs between them — how an answer is written, who owns the exchange
// and when it may be freed — is the ExchangeOwner's.
//
// States: idle → running (a coroutine handler was spawned) → idle when it ends; running →
// timed_out when the deadline passes (the client has its 503, the stop token fired) → idle when
// the coroutine finally ends. A plain handler never leaves idle.

#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>

#include "worker.hpp"

#include <concepts>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>

namespace keel::server {

/// The protocol side of one exchange (an HTTP/1 connection's current request, an HTTP/2
/// stream). Static, not virtual: an idle connection carries no pointer for it.
template <class T>
concept ExchangeOwner = requires(T& owner, http::Response& r, std::string_view detail, bool timed_out) {
    /// A coroutine handler is about to start (it may end before run() returns): the exchange is
    /// busy until handler_ended().
    owner.handler_started();
    /// The handler's answer, to be written by the protocol.
    owner.deliver(r);
    /// The server answers itself: 500 after a throw, 503 past the handler deadline.
    owner.deliver_problem(500, detail);
    /// A coroutine handler ended (`timed_out`: its 503 went out already). False: nobody takes
    /// its answer any more (the connection or stream is gone, or it timed out) and it is
    /// dropped; the owner may have freed the exchange, so the runner touches nothing after it.
    { owner.handler_ended(timed_out) } -> std::same_as<bool>;
    /// A coroutine's answer was delivered: the protocol sends it and goes on.
    owner.delivered_late();
};

/// Where the request came from, as the transport knows it.
struct Arrival {
    const net::Address* remote = nullptr;
    const http::TlsInfo* tls = nullptr;
    TimePoint received_at{};
};

class ExchangeRunner {
  public:
    enum class State : std::uint8_t { idle, running, timed_out };

    /// Counts the request, gives it what the transport knows and its stop token, invokes the
    /// handler and delivers its answer: now (a plain handler, or one that threw at once) or when
    /// its coroutine ends.
    template <ExchangeOwner Owner>
    void run(Server::Worker& worker, http::Request& req, const Arrival& from, Owner& owner);
    /// The handler deadline (ServerOptions::handler_timeout; zero: none): past it a running
    /// coroutine is asked to stop and the client gets a 503. True when that happened now.
    template <ExchangeOwner Owner>
    bool check_deadline(TimePoint now, Duration limit, Owner& owner);

    /// A coroutine handler is running (timed out or not): the exchange may not be freed.
    bool running() const noexcept { return state_ != State::idle; }
    bool timed_out() const noexcept { return state_ == State::timed_out; }
    /// Fires when the client goes away, the deadline passes or the server closes the exchange.
    StopSource& stop() noexcept { return stop_; }
    StopToken stop_token() const noexcept { return const_cast<StopSource&>(stop_).token(); }

  private:
    template <ExchangeOwner Owner>
    void complete(Server::Worker& worker, Owner& owner, std::optional<http::Response> r, std::exception_ptr e);

    TimePoint started_{};
    StopSource stop_;
    State state_ = State::idle;
};

/// Starts a coroutine a response supplies (a streamed body's producer, an upgrade handler): a
/// factory that throws before the first suspension ends the same way as a coroutine that throws
/// later, through `done(exception)`.
template <class Make, class Done>
void start_response_coroutine(Make&& make, Done done) {
    Task<void> task;
    try {
        task = std::forward<Make>(make)();
    } catch (...) {
        done(std::current_exception());
        return;
    }
    spawn(std::move(task), std::move(done));
}

// ------------------------------------------------------------------------------------------

template <ExchangeOwner Owner>
void ExchangeRunner::run(Server::Worker& worker, http::Request& req, const Arrival& from, Owner& owner) {
    worker.count_request();
    req.set_remote(*from.remote);
    req.set_tls(from.tls);
    req.set_received_at(from.received_at);
    stop_.reset();
    req.set_stop_source(&stop_);

    std::optional<http::Outcome> outcome = worker.invoke_handler(req);
    if (!outcome) {
        owner.deliver_problem(500, Server::Worker::kHandlerFailed);  // it threw before answering
        return;
    }
    if (outcome->ready()) {
        owner.deliver(outcome->response());  // plain handlers answer inline, without a coroutine
        return;
    }
    state_ = State::running;
    started_ = worker.loop().now();
    owner.handler_started();
    spawn(outcome->take_task(), [this, &worker, &owner](std::optional<http::Response> r, std::exception_ptr e) {
        complete(worker, owner, std::move(r), e);
    });
}

template <ExchangeOwner Owner>
void ExchangeRunner::complete(Server::Worker& worker, Owner& owner, std::optional<http::Response> r,
                              std::exception_ptr e) {
    bool timed_out = state_ == State::timed_out;
    state_ = State::idle;
    if (!owner.handler_ended(timed_out)) {
        return;
    }
    if (e) {
        worker.report_handler_exception(e);
        owner.deliver_problem(500, Server::Worker::kHandlerFailed);
    } else {
        owner.deliver(*r);
    }
    owner.delivered_late();
}

template <ExchangeOwner Owner>
bool ExchangeRunner::check_deadline(TimePoint now, Duration limit, Owner& owner) {
    if (state_ != State::running || limit <= Duration::zero() || now - started_ <= limit) {
        return false;
    }
    state_ = State::timed_out;  // whatever the handler returns now is dropped
    stop_.request_stop();
    owner.deliver_problem(503, "the request took too long to process");
    return true;
}

}  // namespace keel::server
