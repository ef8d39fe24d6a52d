#include "socket_activation.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace keel::detail {
namespace {

constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START

bool parse_number(const char* text, long& out) {
    std::string_view s = text ? text : "";
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

InheritedSockets take_inherited_sockets() {
    InheritedSockets out;
    const char* pid_text = std::getenv("LISTEN_PID");
    const char* count_text = std::getenv("LISTEN_FDS");
    if (pid_text == nullptr || count_text == nullptr) {
        return out;
    }
    long pid = 0, count = 0;
    if (!parse_number(pid_text, pid) || pid != ::getpid()) {
        return out;  // meant for another process (a parent that passed its environment on)
    }
    std::string names = std::getenv("LISTEN_FDNAMES") ? std::getenv("LISTEN_FDNAMES") : "";
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    if (!parse_number(count_text, count) || count < 0 || count > 64) {
        out.error = "LISTEN_FDS = \"" + std::string(count_text) + "\": not a count of descriptors";
        return out;
    }
    std::string_view rest = names;
    for (int fd = kFirstFd; fd < kFirstFd + count; ++fd) {
        std::size_t colon = std::min(rest.find(':'), rest.size());
        std::string_view name = rest.substr(0, colon);
        rest.remove_prefix(std::min(colon + 1, rest.size()));
        if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
            out.error = "LISTEN_FDS: descriptor " + std::to_string(fd) + " is not open";
            out.main.clear();
            out.admin.clear();
            return out;
        }
        (name == "admin" ? out.admin : out.main).push_back(fd);
    }
    return out;
}

}  // namespace keel::detail
