#include "service/errors.hpp"

namespace linkd {

ServiceError from_repository(const keel::Error& e) {
    switch (e.code()) {
    case keel::Errc::conflict:
        return {Fault::conflict, std::string(e.message()), {}};
    case keel::Errc::not_found:
        return {Fault::not_found, std::string(e.message()), {}};
    case keel::Errc::unavailable:
    case keel::Errc::timeout:
    case keel::Errc::overloaded:
    case keel::Errc::closed:
    case keel::Errc::cancelled:
        return {Fault::unavailable, std::string(e.message()), {}};
    default:
        return {Fault::internal, std::string(e.message()), {}};
    }
}

}  // namespace linkd
