#include "service/errors.hpp"

namespace linkd {

ServiceError::ServiceError(const keel::Error& e) : detail(e.message()) {
    switch (e.code()) {
        case keel::Errc::conflict:
            fault = Fault::conflict;
            break;
        case keel::Errc::not_found:
            fault = Fault::not_found;
            break;
        case keel::Errc::unavailable:
        case keel::Errc::timeout:
        case keel::Errc::overloaded:
        case keel::Errc::closed:
        case keel::Errc::cancelled:
            fault = Fault::unavailable;
            break;
        default:
            fault = Fault::internal;
    }
}

}  // namespace linkd
