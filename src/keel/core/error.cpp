#include <keel/core/error.hpp>

namespace keel {

std::string_view errc_name(Errc code) noexcept {
    switch (code) {
        case Errc::internal:
            return "internal";
        case Errc::invalid_argument:
            return "invalid_argument";
        case Errc::not_found:
            return "not_found";
        case Errc::conflict:
            return "conflict";
        case Errc::overloaded:
            return "overloaded";
        case Errc::timeout:
            return "timeout";
        case Errc::cancelled:
            return "cancelled";
        case Errc::unavailable:
            return "unavailable";
        case Errc::io:
            return "io";
        case Errc::closed:
            return "closed";
    }
    return "unknown";
}

}  // namespace keel
