#include <keel/http/context.hpp>

#include <stdexcept>

namespace keel::http {

Context::Slot* Context::acquire() {
    if (used_ == kSlots) {
        throw std::length_error("keel: more than 8 request-scoped value types in one request");
    }
    return &slots_[used_++];
}

}  // namespace keel::http
