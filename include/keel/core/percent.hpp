#pragma once
/// Percent-decoding (RFC 3986 §2.1), shared by URL paths, query strings, forms and the
/// credentials in configuration URLs. Not for HTML or JSON escaping.

#include <optional>
#include <string>
#include <string_view>

namespace keel {

/// The value of a hex digit, or -1.
constexpr int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// Decodes %XX escapes; with `plus_is_space`, '+' becomes ' ' (query strings and HTML forms,
/// never paths). nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace keel
