#pragma once
// Not public API (detail/: shared by the http, server and web modules): the byte classes of
// RFC 9110/9112 (token, request-target, field-value, hex digit, host) as a table built at
// compile time, and the small text helpers the parsers share.

#include <array>
#include <cstdint>
#include <string_view>

namespace keel::http::detail {

enum : std::uint8_t { kToken = 1, kTarget = 2, kValue = 4, kHex = 8, kHost = 16 };

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool digit = c >= '0' && c <= '9';
        bool tspecial_ok = c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
                           c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~';
        if (alpha || digit || tspecial_ok) {
            t[c] |= kToken;
        }
        // Visible ASCII; '#' is excluded because a request-target carries no fragment (RFC 9112 §3.2).
        if (c > 0x20 && c < 0x7f && c != '#') {
            t[c] |= kTarget;
        }
        // field-value: VCHAR / obs-text / SP / HTAB
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
            t[c] |= kValue;
        }
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
            t[c] |= kHex;
        }
        // A reg-name's bytes besides pct-encoding: unreserved / sub-delims (RFC 3986 §3.2.2).
        if (alpha || digit ||
            std::string_view("-._~!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos) {
            t[c] |= kHost;
        }
    }
    return t;
}
constexpr auto kClass = make_classes();

inline bool is(unsigned char c, std::uint8_t cls) {
    return (kClass[c] & cls) != 0;
}

/// A non-empty RFC 9110 token (header names, cookie names).
inline bool is_token(std::string_view s) noexcept {
    for (unsigned char c : s) {
        if (!is(c, kToken)) {
            return false;
        }
    }
    return !s.empty();
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') {
            x = static_cast<char>(x + 32);
        }
        if (y >= 'A' && y <= 'Z') {
            y = static_cast<char>(y + 32);
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

}  // namespace keel::http::detail
