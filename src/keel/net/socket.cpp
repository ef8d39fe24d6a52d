#include <keel/net/socket.hpp>

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace keel::net {

void Fd::reset() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

namespace {
Error sys_error(const char* what, const Address& addr) {
    return Error::with_detail(Errc::io, std::string(what) + " " + addr.to_string() + ": " + std::strerror(errno));
}
}  // namespace

Result<Fd> listen_tcp(const Address& addr, const ListenOptions& options) {
    Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        return sys_error("socket", addr);
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (options.reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        return sys_error("setsockopt(SO_REUSEPORT)", addr);
    }
    if (::bind(fd.get(), addr.sockaddr_ptr(), addr.length()) != 0) {
        return sys_error("bind", addr);
    }
    if (::listen(fd.get(), options.backlog) != 0) {
        return sys_error("listen", addr);
    }
    return fd;
}

Result<Fd> duplicate_listener(int fd) {
    auto refuse = [fd](const std::string& why) {
        return Error::with_detail(Errc::invalid_argument, "inherited descriptor " + std::to_string(fd) + ": " + why);
    };
    int type = 0, listening = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
        return refuse(std::string("not a socket (") + std::strerror(errno) + ")");
    }
    len = sizeof listening;
    if (type != SOCK_STREAM || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
        return refuse("not a listening stream socket");
    }
    Fd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (!dup) {
        return refuse(std::string("dup: ") + std::strerror(errno));
    }
    // O_NONBLOCK lives in the shared file description: every holder sees it, which is what
    // each of them (several loops, a draining predecessor) wants from a listener anyway.
    if (int flags = ::fcntl(dup.get(), F_GETFL); flags < 0 || ::fcntl(dup.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
        return refuse(std::string("fcntl(O_NONBLOCK): ") + std::strerror(errno));
    }
    return dup;
}

Result<Address> local_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return Error::with_detail(Errc::io, std::string("getsockname: ") + std::strerror(errno));
    }
    return Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

void set_nodelay(int fd) noexcept {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace keel::net
