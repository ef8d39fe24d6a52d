#pragma once
/// Thin helpers over BSD sockets for the server: an owning fd, and listeners bound with
/// SO_REUSEPORT so each loop thread can own one and the kernel spreads connections.

#include <keel/core/result.hpp>
#include <keel/net/address.hpp>

#include <utility>

namespace keel::net {

/// Owns a file descriptor; closes it on destruction.
class Fd {
  public:
    Fd() noexcept = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset() noexcept;

  private:
    int fd_ = -1;
};

struct ListenOptions {
    int backlog = 4096;
    bool reuse_port = true;
};

/// A non-blocking listening TCP socket bound to `addr` (port 0 picks a free port).
Result<Fd> listen_tcp(const Address& addr, const ListenOptions& options = {});

/// A non-blocking, close-on-exec duplicate of `fd`, which must be a listening TCP socket
/// (one handed over by systemd or a parent process). The original stays open.
Result<Fd> duplicate_listener(int fd);

/// The address a socket is bound to (e.g. to learn the port chosen for port 0).
Result<Address> local_address(int fd);

/// Sets TCP_NODELAY (responses are written whole; no reason to wait for more).
void set_nodelay(int fd) noexcept;

}  // namespace keel::net
