#include "systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace keel::detail {

bool systemd_notify(std::string_view state) noexcept {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || (path[0] != '/' && path[0] != '@')) {
        return false;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::size_t len = std::strlen(path);
    if (len >= sizeof addr.sun_path) {
        return false;
    }
    std::memcpy(addr.sun_path, path, len);
    if (path[0] == '@') {
        addr.sun_path[0] = '\0';  // an abstract socket
    }
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    socklen_t size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), size);
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

Duration systemd_watchdog_interval() noexcept {
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    if (usec == nullptr || (pid != nullptr && std::strtol(pid, nullptr, 10) != ::getpid())) {
        return Duration::zero();
    }
    long long us = std::strtoll(usec, nullptr, 10);
    return us > 0 ? std::chrono::duration_cast<Duration>(std::chrono::microseconds(us)) : Duration::zero();
}

}  // namespace keel::detail
