#pragma once
/// keel::server::Server: the HTTP/1.1 and HTTP/2 server. N loop threads, each with its own SO_REUSEPORT
/// listener, event loop and connections; a connection never leaves its thread, so the request
/// path takes no lock. Pipelined requests are answered in order; keep-alive follows HTTP/1.0
/// and 1.1 rules; every limit and timeout of ServerOptions is enforced; ambiguous framing is
/// answered with 400 problem+json and the connection closed.
///
/// Lifecycle: start() → (serving) → shutdown() → wait_drained(timeout) → stop(). keel::App
/// drives this from signals; tests can drive it directly.

#include <keel/core/result.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/http/handler.hpp>
#include <keel/server/server_options.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace keel::server {

struct ServerStats {
    std::uint64_t connections_open = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t requests = 0;
    std::uint64_t bytes_in = 0;   ///< bytes read from clients
    std::uint64_t bytes_out = 0;  ///< bytes written to clients
    /// Times accepting paused because the process was out of file descriptors (it resumes
    /// when one of the server's connections closes, or 20 ms later).
    std::uint64_t accept_fd_exhausted = 0;
};

/// One loop thread's share (for metrics and /debug/vars).
struct LoopStats {
    unsigned index = 0;
    std::uint64_t connections_open = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t requests = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    Duration lag{};  ///< how late the loop's last 100 ms timer fired
    std::uint64_t accept_fd_exhausted = 0;
};

class Server {
  public:
    /// `workers` (optional) is the pool keel::offload uses from handlers.
    Server(ServerOptions options, http::Handler handler, WorkerPool* workers = nullptr);
    /// Stops at once if still running (prefer shutdown + wait_drained).
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds every listener (or adopts ServerOptions::listen_fds) and starts the loop threads.
    /// Fails (with the address and the OS error) when a listener cannot be bound or a handed
    /// descriptor is not a listening socket; nothing keeps running then.
    Result<void> start();

    /// The bound port (useful with port 0). Valid after start().
    std::uint16_t port() const noexcept { return port_; }
    const ServerOptions& options() const noexcept { return options_; }

    /// Graceful: closes the listeners, lets in-flight requests finish (answered with
    /// Connection: close), closes keep-alive connections once idle for 250 ms (a request on
    /// its way is answered, not cut off). Any thread; returns at once.
    void shutdown();
    /// True once shutdown() was called.
    bool shutting_down() const noexcept { return shutting_down_.load(std::memory_order_acquire); }
    /// Waits until every connection has closed after shutdown(). False on timeout.
    bool wait_drained(Duration timeout);
    /// Closes every remaining connection (stop tokens fire), stops the loops and joins them.
    void stop();

    ServerStats stats() const noexcept;
    std::vector<LoopStats> loop_stats() const;
    /// Every loop's listening sockets (to hand them to a successor process). Only before
    /// shutdown(), which closes them.
    std::vector<int> listener_fds() const;
    /// Time since the loop that ticked least recently ran its 100 ms tick: a loop stuck in a
    /// handler shows here (keel::App feeds systemd's watchdog only while this stays short).
    Duration longest_since_tick() const noexcept;

    class Worker;  // one loop thread (private implementation)

  private:
    friend class Worker;
    void on_worker_drained();
    Result<void> start_on_inherited(unsigned threads);
    /// A loop thread's state; an error when its Loop cannot be made (io_uring unavailable).
    Result<std::unique_ptr<Worker>> new_worker(unsigned index);

    ServerOptions options_;
    http::Handler handler_;
    WorkerPool* workers_pool_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::uint16_t port_ = 0;
    std::atomic<bool> shutting_down_{false};
    bool started_ = false;
    bool stopped_ = false;
    std::mutex mu_;
    std::condition_variable drained_cv_;
    unsigned drained_workers_ = 0;
};

}  // namespace keel::server
