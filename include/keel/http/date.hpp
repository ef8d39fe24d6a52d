#pragma once
/// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate, the one form a sender may produce —
/// "Sun, 29 Nov 2026 12:00:00 GMT" — for Date, Last-Modified, Expires and If-Modified-Since.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::http {

/// Unix seconds as an IMF-fixdate (29 bytes). Formatted by hand: the server asks once a second.
std::string format_http_date(std::int64_t unix_seconds);

/// An IMF-fixdate as Unix seconds; nullopt for anything else (the obsolete RFC 850 and asctime
/// forms, which RFC 9110 lets a recipient refuse, included). A leap second reads as :59.
std::optional<std::int64_t> parse_http_date(std::string_view text);

}  // namespace keel::http
