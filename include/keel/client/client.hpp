#pragma once
/// keel::client::Client: the outbound HTTP client, one per App, shared. Built on libcurl's
/// multi-socket API driven by keel's loops: a request suspends the coroutine, the socket is
/// watched by the loop it was awaited on, and no thread blocks.
///
///     keel::client::Client client({.timeout = 5s});
///     auto res = co_await client.get("http://127.0.0.1:9000/health");
///     if (!res) log(res.error().message());          // Errc::timeout, unavailable, ...
///     else use(res->status, res->body);
///
/// - Connections are reused (keep-alive) per loop: at most `max_connections_per_host` at once
///   and `max_idle` kept open; stats() says how many requests reused one.
/// - `connect_timeout` bounds connecting, `timeout` the whole exchange.
/// - Idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS, or `idempotent = true`) are
///   retried on connection failures, timeouts and 502/503/504, up to `max_retries` times, with
///   exponential back-off and full jitter; others are never retried.
/// - A response body over `max_response_bytes` fails the request (Errc::invalid_argument).
///
/// Thread rules: send() is awaited on a loop thread (any loop; each gets its own libcurl
/// multi handle and connection cache). Destroy the client while its loops still run, after
/// every request finished.

#include <keel/core/loop.hpp>
#include <keel/core/per_loop.hpp>
#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/http/trace_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::client {

struct ClientOptions {
    Duration connect_timeout = std::chrono::seconds(2);
    Duration timeout = std::chrono::seconds(10);
    std::size_t max_connections_per_host = 16;
    std::size_t max_idle = 32;  ///< connections kept for reuse, per loop
    std::size_t max_response_bytes = 8 << 20;
    int max_retries = 2;
    Duration retry_base = std::chrono::milliseconds(50);
    Duration retry_max = std::chrono::seconds(2);
    std::string user_agent = "keel";
};

struct ClientRequest {
    std::string method = "GET";
    std::string url = {};
    std::vector<std::pair<std::string, std::string>> headers = {};
    std::string body = {};
    /// nullopt: decided by the method (GET, HEAD, PUT, DELETE, OPTIONS are idempotent).
    std::optional<bool> idempotent = {};
    /// The trace this call is part of (keel::mw::trace_of(req)): sent as `traceparent`, with
    /// the caller's span as the parent, so the next service continues the trace.
    std::optional<http::TraceContext> trace = {};
};

struct ClientResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers = {};
    std::string body = {};
    /// The first header of that name (case-insensitive).
    std::optional<std::string_view> header(std::string_view name) const;
};

struct ClientStats {
    std::uint64_t requests = 0;            ///< attempts sent (retries included)
    std::uint64_t new_connections = 0;     ///< attempts that opened a connection
    std::uint64_t reused_connections = 0;  ///< attempts that reused one
    std::uint64_t retries = 0;
    std::uint64_t failures = 0;  ///< requests that ended in an error (after retries)
};

class Client {
  public:
    explicit Client(ClientOptions options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Task<Result<ClientResponse>> send(ClientRequest request);
    Task<Result<ClientResponse>> get(std::string url) { return send({.method = "GET", .url = std::move(url)}); }

    ClientStats stats() const;
    const ClientOptions& options() const noexcept { return options_; }

    class Driver;  // one per loop: a libcurl multi handle on that loop (private)

  private:
    Task<Result<ClientResponse>> attempt(const ClientRequest& request);

    ClientOptions options_;
    std::atomic<std::uint64_t> requests_{0}, new_connections_{0}, reused_{0}, retries_{0}, failures_{0};
    PerLoop<Driver> drivers_;  // last: drivers use the members above
};

}  // namespace keel::client
