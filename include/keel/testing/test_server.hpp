#pragma once
/// A real keel server on 127.0.0.1 and an ephemeral port, for tests over real sockets
/// (curl, raw clients), plus a small blocking client that speaks raw bytes.
///
///     keel::testing::TestServer srv(handler);
///     auto res = keel::testing::RawClient(srv.port()).exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

#include <keel/server/server.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace keel::testing {

class TestServer {
  public:
    /// Starts at once (1 loop thread, port 0 unless options say otherwise). Throws on failure.
    explicit TestServer(http::Handler handler, server::ServerOptions options = default_options(),
                        WorkerPool* workers = nullptr);
    ~TestServer();

    static server::ServerOptions default_options();

    std::uint16_t port() const noexcept { return server_->port(); }
    /// "http://127.0.0.1:<port><path>"
    std::string url(std::string_view path = "/") const;
    server::Server& server() noexcept { return *server_; }

  private:
    std::unique_ptr<server::Server> server_;
};

/// One parsed HTTP/1.1 response read off a socket.
struct RawResponse {
    int status = 0;
    std::string head = {};  ///< status line and headers, as received
    std::string body = {};
    std::optional<std::string> header(std::string_view name) const;
};

/// A blocking TCP client for tests. Every read has a timeout; nothing waits forever.
class RawClient {
  public:
    explicit RawClient(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    bool connected() const noexcept { return fd_ >= 0; }
    /// Sends every byte; false if the peer is gone.
    bool send(std::string_view bytes);
    /// Half-closes the sending side.
    void shutdown_write();
    /// Reads one response (Content-Length, chunked or close-delimited). nullopt on timeout or
    /// when the connection closes before a complete response.
    std::optional<RawResponse> read_response(bool head_request = false);
    /// send + read_response.
    std::optional<RawResponse> exchange(std::string_view request);
    /// Reads until the server closes (or the timeout); returns all bytes.
    std::string read_until_close();
    /// True when bytes (or EOF) can be read within `wait`.
    bool readable(std::chrono::milliseconds wait);
    /// True when the server closed the connection within the timeout (EOF or reset).
    bool closed_by_peer();

  private:
    bool fill();
    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    std::string buf_;
};

}  // namespace keel::testing
