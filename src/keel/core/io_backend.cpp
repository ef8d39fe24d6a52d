#include <keel/core/io_ring.hpp>

namespace keel {

std::string_view to_string(IoBackend b) noexcept {
    return b == IoBackend::io_uring ? "io_uring" : "epoll";
}

std::optional<IoBackend> parse_io_backend(std::string_view name) noexcept {
    if (name == "epoll") {
        return IoBackend::epoll;
    }
    if (name == "io_uring") {
        return IoBackend::io_uring;
    }
    return std::nullopt;
}

bool io_uring_built() noexcept {
#ifdef KEEL_WITH_IO_URING
    return true;
#else
    return false;
#endif
}

}  // namespace keel
