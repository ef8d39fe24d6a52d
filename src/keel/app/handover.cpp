#include "handover.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string_view>

extern char** environ;

namespace keel::detail {
namespace {

constexpr int kFirstFd = 3;

bool starts_with(const char* s, std::string_view prefix) {
    return std::string_view(s).substr(0, prefix.size()) == prefix;
}

/// Writes `n` in decimal at `out` (a buffer of 20+ chars), without allocating: used between
/// fork and exec, where only async-signal-safe work is allowed.
void write_decimal(char* out, long n) {
    char digits[24];
    int len = 0;
    do {
        digits[len++] = static_cast<char>('0' + n % 10);
        n /= 10;
    } while (n > 0);
    for (int i = 0; i < len; ++i) {
        out[i] = digits[len - 1 - i];
    }
    out[len] = '\0';
}

}  // namespace

std::string executable_path() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

Result<pid_t> start_successor(const std::string& exe, const std::vector<std::string>& args,
                              const std::vector<PassedSocket>& sockets, Duration timeout) {
    // A private, abstract notify socket: "READY=1" from the successor means it serves.
    static std::atomic<int> counter{0};
    std::string name = "keel-handover-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    int notify = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notify < 0) {
        return Error::with_detail(Errc::io, std::string("socket: ") + std::strerror(errno));
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
    socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (::bind(notify, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
        ::close(notify);
        return Error::with_detail(Errc::io, std::string("bind: ") + std::strerror(errno));
    }

    // Everything the child needs is prepared here: after fork only async-signal-safe calls.
    std::string fd_names;
    for (const PassedSocket& s : sockets) {
        fd_names += (fd_names.empty() ? "" : ":") + s.name;
    }
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        if (!starts_with(*e, "LISTEN_") && !starts_with(*e, "NOTIFY_SOCKET=") && !starts_with(*e, "WATCHDOG_")) {
            env_strings.emplace_back(*e);
        }
    }
    env_strings.push_back("LISTEN_FDS=" + std::to_string(sockets.size()));
    env_strings.push_back("LISTEN_FDNAMES=" + fd_names);
    env_strings.push_back("NOTIFY_SOCKET=@" + name);
    env_strings.push_back("LISTEN_PID=" + std::string(24, '0'));  // the child writes its pid here
    std::vector<char*> envp;
    for (std::string& s : env_strings) {
        envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    char* pid_digits = env_strings.back().data() + std::strlen("LISTEN_PID=");
    std::vector<std::string> arg_strings = args;
    std::vector<char*> argv;
    for (std::string& a : arg_strings) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    // In the child, each socket is first parked above every source (so no dup2 overwrites a
    // socket not moved yet), then moved to 3, 4, ...; distinct sockets >= 3 put the parking
    // above the targets too.
    int parking = kFirstFd + static_cast<int>(sockets.size());
    for (const PassedSocket& s : sockets) {
        parking = std::max(parking, s.fd + 1);
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(notify);
        return Error::with_detail(Errc::io, std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (std::size_t i = 0; i < sockets.size(); ++i) {
            if (::dup2(sockets[i].fd, parking + static_cast<int>(i)) < 0) {
                ::_exit(127);
            }
        }
        for (std::size_t i = 0; i < sockets.size(); ++i) {
            ::dup2(parking + static_cast<int>(i), kFirstFd + static_cast<int>(i));  // clears close-on-exec
            ::close(parking + static_cast<int>(i));
        }
        write_decimal(pid_digits, static_cast<long>(::getpid()));
        ::execve(exe.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }

    auto deadline = Clock::now() + timeout;
    auto give_up = [&](std::string why) -> Result<pid_t> {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        ::close(notify);
        return Error::with_detail(Errc::unavailable, std::move(why));
    };
    while (Clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            ::close(notify);
            return Error::with_detail(
                Errc::unavailable,
                "the new process exited with " +
                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
                    " before it was ready");
        }
        pollfd p{notify, POLLIN, 0};
        if (::poll(&p, 1, 100) == 1) {
            char buf[512];
            ssize_t n = ::recv(notify, buf, sizeof buf, 0);
            std::string_view msg(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
            if (msg.substr(0, 8) == "READY=1\n" || msg == "READY=1" ||
                msg.find("\nREADY=1") != std::string_view::npos) {
                ::close(notify);
                return pid;
            }
        }
    }
    return give_up("the new process did not report ready in time");
}

}  // namespace keel::detail
