#pragma once
/// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate, the one form a sender may produce —
/// "Sun, 29 Nov 2026 12:00:00 GMT" — for Date, Last-Modified, Expires and If-Modified-Since.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::http {

inline constexpr std::size_t kHttpDateSize = 29;

/// Unix seconds as an IMF-fixdate (29 bytes). Formatted by hand: the server asks once a second.
std::string format_http_date(std::int64_t unix_seconds);

/// The same into `out`, without allocating (the server's Date line is refreshed on the loop).
void format_http_date(std::int64_t unix_seconds, char (&out)[kHttpDateSize]);

/// An IMF-fixdate as Unix seconds; nullopt for anything else (the obsolete RFC 850 and asctime
/// forms, which RFC 9110 lets a recipient refuse, included). A leap second reads as :59.
std::optional<std::int64_t> parse_http_date(std::string_view text);

}  // namespace keel::http
