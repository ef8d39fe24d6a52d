#pragma once
// One loop thread of a Server: its Loop, its listeners (its own SO_REUSEPORT socket, or
// duplicates of inherited ones) and its connections.

#include <keel/core/loop.hpp>
#include <keel/net/socket.hpp>
#include <keel/server/server.hpp>

#include "exchange.hpp"

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace keel::server {

class Connection;

class Server::Worker final : public IoWatcher {
  public:
    Worker(Server& server, unsigned index);
    ~Worker();

    /// Binds a listener of its own (SO_REUSEPORT: the kernel spreads connections over loops).
    Result<void> listen(const net::Address& addr);
    /// Accepts on a duplicate of `fd`, a socket already listening (socket activation).
    Result<void> adopt(int fd);
    const std::vector<net::Fd>& listeners() const noexcept { return listeners_; }
    void start_thread();
    void join();

    Loop& loop() noexcept { return loop_; }
    Server& server() noexcept { return server_; }
    const http::Handler& handler() const noexcept { return server_.handler_; }
    const ServerOptions& options() const noexcept { return server_.options_; }
    bool shutting_down() const noexcept { return draining_; }
    std::string_view date_line() const noexcept { return date_line_; }
    void emit(ServerEvent::Level level, std::string_view message, std::string_view detail) const;
    /// Reports an answer the server gave itself (ServerOptions::on_answer).
    void answered(const ServerAnswer& a) const;
    /// Runs the handler for `req`. A handler that throws before its first suspension is reported
    /// (ServerEvent) and gives nullopt: the caller answers 500 with kHandlerFailed.
    std::optional<http::Outcome> invoke_handler(http::Request& req) const;
    /// Reports the exception a handler's coroutine ended with.
    void report_handler_exception(std::exception_ptr e) const;
    static constexpr std::string_view kHandlerFailed = "the server could not complete the request";

    /// The problem+json answer the server gives itself (with a request id of its own), reported
    /// through answered(). `method` and `path` are empty when the request line was not read.
    http::Response answer_problem(int status, std::string_view detail, std::string_view method, std::string_view path,
                                  const net::Address& remote, TimePoint since) const;

    // Per-loop pools: what a connection needs only while a request is in progress.
    std::unique_ptr<Exchange> take_exchange();
    void give_back(std::unique_ptr<Exchange> x) noexcept;  ///< `x` cleared (Exchange::reset)
    std::unique_ptr<char[]> take_buffer();                 ///< kReadBufferSize bytes
    void give_back(std::unique_ptr<char[]> buffer) noexcept;

    void add(Connection* c) noexcept;
    void remove(Connection* c) noexcept;
    void count_request() noexcept { requests_.fetch_add(1, std::memory_order_relaxed); }
    // Written by this worker's thread only: a relaxed load + store, no locked instruction.
    void count_in(std::size_t n) noexcept {
        bytes_in_.store(bytes_in_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void count_out(std::size_t n) noexcept {
        bytes_out_.store(bytes_out_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    // loop thread
    void begin_shutdown();
    void force_close();

    std::uint64_t open() const noexcept { return open_.load(std::memory_order_relaxed); }
    std::uint64_t accepted() const noexcept { return accepted_.load(std::memory_order_relaxed); }
    std::uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }
    std::uint64_t bytes_in() const noexcept { return bytes_in_.load(std::memory_order_relaxed); }
    std::uint64_t bytes_out() const noexcept { return bytes_out_.load(std::memory_order_relaxed); }
    Duration lag() const noexcept { return Duration(lag_ns_.load(std::memory_order_relaxed)); }
    TimePoint ticked_at() const noexcept { return TimePoint(Duration(ticked_at_.load(std::memory_order_relaxed))); }
    unsigned index() const noexcept { return index_; }

    std::uint64_t fd_exhausted() const noexcept { return fd_exhausted_.load(std::memory_order_relaxed); }

    void on_io(std::uint32_t events) override;  // a listener

  private:
    // io_uring: a listener served by a multishot accept (one completion per connection).
    struct RingListener final : Completion {
        Worker* worker;
        int fd;
        bool armed = false;
        RingListener(Worker* w, int f) : worker(w), fd(f) {}
        void on_complete(RingOp op, int result, std::uint32_t flags) override;
    };
    /// A new connection (accepted either way): TLS if configured, then watched or fed by the ring.
    void serve(int fd, const net::Address& remote);
    static constexpr Duration kAcceptRetry = std::chrono::milliseconds(20);
    // Spares kept per loop: enough for a burst of busy connections, bounded for idle times.
    static constexpr std::size_t kMaxSpare = 256;
    static constexpr Duration kExhaustedLogInterval = std::chrono::seconds(10);

    void accept_all();
    void accept_from(int listener);
    /// io_uring: a listener's accept has ended (its last completion came).
    void finish_accepting(int listener);
    void pause_accepting(int err);
    void resume_accepting_soon();
    void tick();
    void update_date();
    void check_drained();

    Server& server_;
    unsigned index_;
    Loop loop_;
    std::vector<net::Fd> listeners_;
    std::vector<std::unique_ptr<RingListener>> ring_listeners_;  // kept until the loop ends
    std::vector<std::unique_ptr<Exchange>> spare_exchanges_;
    std::vector<std::unique_ptr<char[]>> spare_buffers_;
    std::thread thread_;
    Connection* head_ = nullptr;  // intrusive list of live connections
    bool draining_ = false;
    bool drained_reported_ = false;
    std::string date_line_ = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";  // digits rewritten in place
    std::time_t date_second_ = 0;
    std::atomic<std::uint64_t> open_{0};
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> bytes_in_{0};
    std::atomic<std::uint64_t> bytes_out_{0};
    std::atomic<Duration::rep> lag_ns_{0};  // how late the last 100 ms tick fired
    std::atomic<Duration::rep> ticked_at_{Clock::now().time_since_epoch().count()};  // a stuck loop stops this
    std::atomic<std::uint64_t> fd_exhausted_{0};
    TimerId accept_retry_ = 0;  // accepting paused: out of descriptors
    TimePoint last_exhausted_log_{};
};

}  // namespace keel::server
