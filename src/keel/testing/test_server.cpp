#include <keel/testing/test_server.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace keel::testing {

server::ServerOptions TestServer::default_options() {
    server::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 1;
    // The suite runs every server test on each back-end (keel_test BOTH_IO sets this).
    if (const char* io = std::getenv("KEEL_TEST_IO")) {
        o.io = parse_io_backend(io).value_or(IoBackend::epoll);
    }
    return o;
}

TestServer::TestServer(http::Handler handler, server::ServerOptions options, WorkerPool* workers)
    : server_(std::make_unique<server::Server>(std::move(options), std::move(handler), workers)) {
    if (auto r = server_->start(); !r) {
        throw std::runtime_error("keel::testing: cannot start server: " + std::string(r.error().message()));
    }
}

TestServer::~TestServer() {
    server_->stop();
}

std::string TestServer::url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
}

namespace {
std::optional<std::string> header_in(std::string_view head, std::string_view name) {
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size()) {
        std::size_t start = pos + 2;
        std::size_t eol = head.find("\r\n", start);
        std::string_view line =
            head.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
        std::size_t colon = line.find(':');
        if (colon != std::string_view::npos && colon == name.size() &&
            ::strncasecmp(line.data(), name.data(), name.size()) == 0) {
            std::string_view v = line.substr(colon + 1);
            while (!v.empty() && v.front() == ' ') {
                v.remove_prefix(1);
            }
            return std::string(v);
        }
        pos = eol;
    }
    return std::nullopt;
}
}  // namespace

std::optional<std::string> RawResponse::header(std::string_view name) const {
    return header_in(head, name);
}

namespace {

// With SO_SNDTIMEO set, connect(2) is never restarted after a signal handler ran (signal(7)): it
// fails with EINTR while the handshake goes on. A process with timers (libFuzzer's SIGALRM) hit
// that about once in 800,000 connections; this waits for the handshake instead.
bool connect_interrupted(int fd, std::chrono::milliseconds timeout) {
    if (errno != EINTR) {
        return false;
    }
    pollfd p{fd, POLLOUT, 0};
    int ready;
    do {
        ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    int error = 0;
    socklen_t len = sizeof error;
    return ready == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
}

}  // namespace

RawClient::RawClient(std::uint16_t port, std::chrono::milliseconds timeout) : timeout_(timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && !connect_interrupted(fd_, timeout)) {
        ::close(fd_);
        fd_ = -1;
    }
}

RawClient::~RawClient() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

bool RawClient::send(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void RawClient::shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
}

bool RawClient::fill() {
    char chunk[16384];
    for (;;) {
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n > 0) {
            buf_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return false;  // EOF, reset or timeout
    }
}

std::optional<RawResponse> RawClient::read_response(bool head_request) {
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill()) {
            return std::nullopt;
        }
    }
    RawResponse r;
    r.head = buf_.substr(0, head_end + 2);
    if (r.head.size() < 12 || r.head.compare(0, 5, "HTTP/") != 0) {
        return std::nullopt;
    }
    r.status = std::atoi(r.head.c_str() + 9);
    buf_.erase(0, head_end + 4);
    bool no_body = head_request || r.status < 200 || r.status == 204 || r.status == 304;
    if (no_body) {
        return r;
    }
    if (auto cl = r.header("Content-Length")) {
        std::size_t n = std::stoul(*cl);
        while (buf_.size() < n) {
            if (!fill()) {
                return std::nullopt;
            }
        }
        r.body = buf_.substr(0, n);
        buf_.erase(0, n);
        return r;
    }
    if (auto te = r.header("Transfer-Encoding"); te && *te == "chunked") {
        for (;;) {
            std::size_t eol;
            while ((eol = buf_.find("\r\n")) == std::string::npos) {
                if (!fill()) {
                    return std::nullopt;
                }
            }
            std::size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
            while (buf_.size() < eol + 2 + size + 2) {
                if (!fill()) {
                    return std::nullopt;
                }
            }
            r.body.append(buf_, eol + 2, size);
            buf_.erase(0, eol + 2 + size + 2);
            if (size == 0) {
                return r;  // (trailers are not used by keel's responses)
            }
        }
    }
    while (fill()) {
    }
    r.body = std::move(buf_);
    buf_.clear();
    return r;
}

std::optional<RawResponse> RawClient::exchange(std::string_view request) {
    if (!send(request)) {
        return std::nullopt;
    }
    return read_response(request.substr(0, 5) == "HEAD ");
}

std::string RawClient::read_until_close() {
    while (fill()) {
    }
    return std::exchange(buf_, {});
}

bool RawClient::readable(std::chrono::milliseconds wait) {
    if (!buf_.empty()) {
        return true;
    }
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

bool RawClient::closed_by_peer() {
    char c;
    for (;;) {
        ssize_t n = ::recv(fd_, &c, 1, 0);
        if (n == 0) {
            return true;
        }
        if (n > 0) {
            buf_.push_back(c);
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        return errno == ECONNRESET;  // EAGAIN = timeout: still open
    }
}

}  // namespace keel::testing
