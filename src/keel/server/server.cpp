#include <keel/http/date.hpp>
#include <keel/http/problem.hpp>
#include <keel/http/request_id.hpp>
#include <keel/net/socket.hpp>
#include <keel/server/server.hpp>

#include "connection.hpp"
#include "worker.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace keel::server {

// ---------------------------------------------------------------------------- Worker

Server::Worker::Worker(Server& server, unsigned index)
    : server_(server), index_(index), loop_(server.workers_pool_, server.options_.io) {
    update_date();
    if (loop_.ring() && !loop_.ring()->set_batch_wait(server.options_.io_batch_wait)) {
        emit(ServerEvent::Level::warn, "io_batch_wait ignored", "the kernel cannot batch waits (needs Linux 6.12)");
    }
    spare_exchanges_.reserve(kMaxSpare);  // give_back() never allocates
    spare_buffers_.reserve(kMaxSpare);
}

Server::Worker::~Worker() {
    // Connections still alive here had a handler that never finished; their frames are gone
    // with the loop, so free the connections themselves.
    while (head_) {
        delete head_;
    }
}

Result<void> Server::Worker::listen(const net::Address& addr) {
    KEEL_TRY(fd, net::listen_tcp(addr, {.backlog = server_.options_.backlog, .reuse_port = true}));
    listeners_.push_back(std::move(fd));
    return {};
}

Result<void> Server::Worker::adopt(int fd) {
    KEEL_TRY(dup, net::duplicate_listener(fd));
    listeners_.push_back(std::move(dup));
    return {};
}

void Server::Worker::start_thread() {
    thread_ = std::thread([this] {
        for (const net::Fd& l : listeners_) {
            if (loop_.ring()) {
                ring_listeners_.push_back(std::make_unique<RingListener>(this, l.get()));
            } else if (auto r = loop_.watch(l.get(), EPOLLIN, this); !r) {
                emit(ServerEvent::Level::error, "cannot watch listener", r.error().message());
            }
        }
        if (loop_.ring()) {
            accept_all();
        }
        loop_.run_every(std::chrono::milliseconds(100), [this] { tick(); });
        loop_.run();
    });
    std::string name = "keel-loop-" + std::to_string(index_);
    pthread_setname_np(thread_.native_handle(), name.c_str());
}

void Server::Worker::join() {
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Server::Worker::emit(ServerEvent::Level level, std::string_view message, std::string_view detail) const {
    if (server_.options_.on_event) {
        server_.options_.on_event(ServerEvent{level, message, detail});
    }
}

void Server::Worker::answered(const ServerAnswer& a) const {
    emit(ServerEvent::Level::debug, "answered with an error",
         std::to_string(a.status) + " request_id=" + std::string(a.request_id) + ": " + std::string(a.reason));
    if (server_.options_.on_answer) {
        server_.options_.on_answer(a);
    }
}

std::optional<http::Outcome> Server::Worker::invoke_handler(http::Request& req) const {
    try {
        return server_.handler_.invoke(req);
    } catch (...) {
        report_handler_exception(std::current_exception());
        return std::nullopt;
    }
}

void Server::Worker::report_handler_exception(std::exception_ptr e) const {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        emit(ServerEvent::Level::error, "handler threw", ex.what());
    } catch (...) {
        emit(ServerEvent::Level::error, "handler threw", "unknown exception");
    }
}

http::Response Server::Worker::answer_problem(int status, std::string_view detail, std::string_view method,
                                              std::string_view path, const net::Address& remote,
                                              TimePoint since) const {
    http::Response r = http::problem(status, detail, path);
    // No middleware ran for this answer: stamp it with an id of its own, so the client's report
    // and the server's log line can be matched.
    char id[http::kRequestIdLength];
    http::generate_request_id(id);
    std::string_view id_view(id, http::kRequestIdLength);
    r.header("X-Request-ID", id_view);
    std::string& body = r.body_buffer();
    body.pop_back();  // the closing brace of the problem object
    body.append(",\"request_id\":\"").append(id_view).append("\"}");
    answered(ServerAnswer{status, method, path, detail, id_view, remote.host(), loop_.now() - since});
    return r;
}

std::unique_ptr<Exchange> Server::Worker::take_exchange() {
    if (spare_exchanges_.empty()) {
        return std::make_unique<Exchange>(options().limits);
    }
    std::unique_ptr<Exchange> x = std::move(spare_exchanges_.back());
    spare_exchanges_.pop_back();
    return x;
}

void Server::Worker::give_back(std::unique_ptr<Exchange> x) noexcept {
    if (spare_exchanges_.size() < kMaxSpare) {
        spare_exchanges_.push_back(std::move(x));
    }
}

std::unique_ptr<char[]> Server::Worker::take_buffer() {
    if (spare_buffers_.empty()) {
        return std::unique_ptr<char[]>(new char[kReadBufferSize]);
    }
    std::unique_ptr<char[]> b = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
    return b;
}

void Server::Worker::give_back(std::unique_ptr<char[]> buffer) noexcept {
    if (spare_buffers_.size() < kMaxSpare) {
        spare_buffers_.push_back(std::move(buffer));
    }
}

void Server::Worker::add(Connection* c) noexcept {
    c->next = head_;
    c->prev = nullptr;
    if (head_) {
        head_->prev = c;
    }
    head_ = c;
    open_.fetch_add(1, std::memory_order_relaxed);
}

void Server::Worker::remove(Connection* c) noexcept {
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        head_ = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    open_.fetch_sub(1, std::memory_order_relaxed);
    resume_accepting_soon();  // its descriptor is free again
    check_drained();
}

void Server::Worker::on_io(std::uint32_t) {
    accept_all();
}

// Edge-triggered: any listener's edge drains them all (an inherited socket is shared with the
// other loops, so another may have taken its connections first: that is EAGAIN here).
void Server::Worker::accept_all() {
    if (loop_.ring()) {
        for (auto& l : ring_listeners_) {
            if (!l->armed && !draining_) {
                loop_.ring()->accept(l->fd, l.get());
                l->armed = true;
            }
        }
        return;
    }
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
        accept_from(listeners_[i].get());
    }
}

void Server::Worker::accept_from(int listener) {
    for (;;) {
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                pause_accepting(errno);
            }
            return;  // EAGAIN: the next connection brings a new edge
        }
        serve(fd, net::Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len));
    }
}

void Server::Worker::RingListener::on_complete(RingOp, int result, std::uint32_t flags) {
    Worker& w = *worker;
    if (!IoRing::more(flags)) {
        armed = false;
        // Draining: connections the kernel accepted before the cancel came first and are
        // answered (with Connection: close); only after this last completion is the loop done.
        w.loop_.defer([&w, listener = fd] { w.finish_accepting(listener); });
    }
    if (result >= 0) {
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        ::getpeername(result, reinterpret_cast<sockaddr*>(&ss), &len);
        w.serve(result, net::Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len));
        return;
    }
    if (result == -EMFILE || result == -ENFILE || result == -ENOBUFS || result == -ENOMEM) {
        if (armed) {
            w.loop_.ring()->cancel(this, RingOp::accept);  // paused: pause_accepting re-arms it
        }
        w.pause_accepting(-result);
        return;
    }
    if (!armed && result != -ECANCELED && !w.draining_) {
        w.loop_.defer([&w] { w.accept_all(); });  // ended by the kernel: arm it again
    }
}

void Server::Worker::serve(int fd, const net::Address& remote) {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    net::set_nodelay(fd);
    std::unique_ptr<SecureChannel> tls;
    if (options().tls) {
        tls = options().tls->accept(fd);
        if (!tls) {
            ::close(fd);
            emit(ServerEvent::Level::error, "cannot start a TLS connection", "");
            return;
        }
    }
    bool fed_by_ring = loop_.ring() && !tls;  // TLS reads through OpenSSL: the ring's poll emulation
    auto* c = new Connection(*this, fd, remote, std::move(tls));
    if (fed_by_ring) {
        c->start_ring();
    } else if (auto r = loop_.watch(fd, EPOLLIN | EPOLLRDHUP, c); !r) {  // EPOLLOUT only while a write is blocked
        emit(ServerEvent::Level::error, "cannot watch connection", r.error().message());
        c->force_close();
    }
    if (draining_) {
        c->begin_shutdown();  // accepted as the listener closed: answered with Connection: close
    }
}

// Out of descriptors (or kernel memory). The listener is edge-triggered: connections already
// queued bring no new event, so they would wait for the next client to arrive. Try again when
// one of our connections closes, and on a timer for descriptors freed elsewhere in the process.
void Server::Worker::pause_accepting(int err) {
    fd_exhausted_.fetch_add(1, std::memory_order_relaxed);
    if (accept_retry_ != 0) {
        return;
    }
    TimePoint now = loop_.now();
    if (now - last_exhausted_log_ >= kExhaustedLogInterval) {
        last_exhausted_log_ = now;
        emit(ServerEvent::Level::warn, "accept: out of file descriptors, retrying",
             std::string(std::strerror(err)) + " (loop " + std::to_string(index_) + ", " + std::to_string(open()) +
                 " connections open)");
    }
    accept_retry_ = loop_.run_after(kAcceptRetry, [this] {
        accept_retry_ = 0;
        accept_all();
    });
}

void Server::Worker::resume_accepting_soon() {
    if (accept_retry_ != 0 && loop_.cancel(accept_retry_)) {
        accept_retry_ = 0;
        loop_.defer([this] { accept_all(); });
    }
}

void Server::Worker::tick() {
    lag_ns_.store(loop_.last_timer_lag().count(), std::memory_order_relaxed);
    update_date();
    TimePoint now = Clock::now();
    ticked_at_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    for (Connection* c = head_; c;) {
        Connection* next = c->next;  // on_tick may close c (deletion is deferred)
        c->on_tick(now);
        c = next;
    }
}

void Server::Worker::update_date() {
    std::time_t t = std::time(nullptr);
    if (t == date_second_) {
        return;
    }
    date_second_ = t;
    // In place: this runs on the loop every second, where the hot path promises no allocation.
    char date[http::kHttpDateSize];
    http::format_http_date(t, date);
    std::memcpy(date_line_.data() + 6, date, http::kHttpDateSize);
}

void Server::Worker::begin_shutdown() {
    draining_ = true;
    if (accept_retry_ != 0) {
        loop_.cancel(accept_retry_);
        accept_retry_ = 0;
    }
    for (const net::Fd& l : listeners_) {
        loop_.unwatch(l.get());
    }
    if (loop_.ring()) {
        for (auto& l : ring_listeners_) {
            loop_.ring()->cancel(l.get(), RingOp::accept);
        }
        loop_.ring()->submit();
    } else {
        listeners_.clear();  // an inherited socket stays open in its other holders, its queue intact
    }
    for (Connection* c = head_; c;) {
        Connection* next = c->next;
        c->begin_shutdown();
        c = next;
    }
    check_drained();
}

void Server::Worker::force_close() {
    for (Connection* c = head_; c;) {
        Connection* next = c->next;
        c->force_close();
        c = next;
    }
}

void Server::Worker::finish_accepting(int listener) {
    if (draining_) {
        // The kernel wakes one waiter per new connection. One that woke this ring just before
        // the cancel is still queued, and nothing wakes the successor for it: take it here
        // (answered with Connection: close) before the listener closes.
        accept_from(listener);
        if (std::none_of(ring_listeners_.begin(), ring_listeners_.end(), [](const auto& l) { return l->armed; })) {
            listeners_.clear();  // an inherited socket stays open in its other holders, its queue intact
        }
    }
    check_drained();
}

void Server::Worker::check_drained() {
    bool accepting =
        std::any_of(ring_listeners_.begin(), ring_listeners_.end(), [](const auto& l) { return l->armed; });
    if (draining_ && !drained_reported_ && head_ == nullptr && !accepting) {
        drained_reported_ = true;
        server_.on_worker_drained();
    }
}

// ---------------------------------------------------------------------------- Server

Server::Server(ServerOptions options, http::Handler handler, WorkerPool* workers)
    : options_(std::move(options)), handler_(std::move(handler)), workers_pool_(workers) {}

Server::~Server() {
    stop();
}

Result<void> Server::start() {
    if (started_) {
        return Error(Errc::invalid_argument, "server already started");
    }
    if (!handler_) {
        return Error(Errc::invalid_argument, "server has no handler");
    }
    unsigned n = options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
    if (!options_.listen_fds.empty()) {
        return start_on_inherited(n);
    }
    KEEL_TRY(addr, net::Address::parse(options_.host, options_.port));
    // Every loop's listener uses SO_REUSEPORT, which would also let a second process share the
    // port silently. Probe with a plain socket first so "address already in use" is reported,
    // and so that port 0 resolves to one concrete port for all listeners.
    {
        KEEL_TRY(probe, net::listen_tcp(addr, {.backlog = 1, .reuse_port = false}));
        KEEL_TRY(local, net::local_address(probe.get()));
        port_ = local.port();
        addr = net::Address::parse(options_.host, port_).value();
    }
    for (unsigned i = 0; i < n; ++i) {
        KEEL_TRY(w, new_worker(i));
        KEEL_TRY_VOID(w->listen(addr));
        workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) {
        w->start_thread();
    }
    started_ = true;
    return {};
}

Result<std::unique_ptr<Server::Worker>> Server::new_worker(unsigned index) {
    try {
        return std::make_unique<Worker>(*this, index);
    } catch (const std::runtime_error& e) {
        return Error::with_detail(Errc::io, e.what());
    }
}

Result<void> Server::start_on_inherited(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) {
        KEEL_TRY(w, new_worker(i));
        for (int fd : options_.listen_fds) {
            KEEL_TRY_VOID(w->adopt(fd));  // refuses what is not a listening socket
        }
        workers_.push_back(std::move(w));
    }
    KEEL_TRY(local, net::local_address(options_.listen_fds.front()));
    port_ = local.port();
    for (auto& w : workers_) {
        w->start_thread();
    }
    started_ = true;
    return {};
}

void Server::shutdown() {
    if (shutting_down_.exchange(true, std::memory_order_acq_rel)) {
        return;
    }
    for (auto& w : workers_) {
        Worker* worker = w.get();
        worker->loop().post([worker] { worker->begin_shutdown(); });
    }
}

void Server::on_worker_drained() {
    std::lock_guard lock(mu_);
    ++drained_workers_;
    drained_cv_.notify_all();
}

bool Server::wait_drained(Duration timeout) {
    std::unique_lock lock(mu_);
    return drained_cv_.wait_for(lock, timeout, [&] { return drained_workers_ >= workers_.size(); });
}

void Server::stop() {
    if (!started_ || stopped_) {
        return;
    }
    stopped_ = true;
    shutdown();
    for (auto& w : workers_) {
        Worker* worker = w.get();
        worker->loop().post([worker] { worker->force_close(); });
        worker->loop().stop();
    }
    for (auto& w : workers_) {
        w->join();
    }
}

ServerStats Server::stats() const noexcept {
    ServerStats s;
    for (const auto& w : workers_) {
        s.connections_open += w->open();
        s.connections_accepted += w->accepted();
        s.requests += w->requests();
        s.bytes_in += w->bytes_in();
        s.bytes_out += w->bytes_out();
        s.accept_fd_exhausted += w->fd_exhausted();
    }
    return s;
}

std::vector<int> Server::listener_fds() const {
    std::vector<int> fds;
    for (const auto& w : workers_) {
        for (const net::Fd& l : w->listeners()) {
            fds.push_back(l.get());
        }
    }
    return fds;
}

Duration Server::longest_since_tick() const noexcept {
    TimePoint now = Clock::now();
    Duration longest = Duration::zero();
    for (const auto& w : workers_) {
        longest = std::max(longest, now - w->ticked_at());
    }
    return longest;
}

std::vector<LoopStats> Server::loop_stats() const {
    std::vector<LoopStats> out;
    for (const auto& w : workers_) {
        out.push_back({w->index(), w->open(), w->accepted(), w->requests(), w->bytes_in(), w->bytes_out(), w->lag(),
                       w->fd_exhausted()});
    }
    return out;
}

}  // namespace keel::server
