#pragma once
/// HTTP status codes: reason phrases and the handful of rules the serializer needs.

#include <string_view>

namespace keel::http {

/// "OK", "Not Found", …; "Unknown" for codes without a registered phrase.
std::string_view reason_phrase(int status) noexcept;

/// 1xx, 204 and 304 responses never carry a body (RFC 9110 §6.4.1).
constexpr bool status_allows_body(int status) noexcept {
    return !(status < 200 || status == 204 || status == 304);
}

}  // namespace keel::http
