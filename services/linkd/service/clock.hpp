#pragma once
// Wall-clock time for linkd, injectable so that tests control expiry and days.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace linkd {

/// Unix seconds now.
using WallClock = std::function<std::int64_t()>;
std::int64_t system_now();

/// "2026-11-29T12:00:00Z"
std::string format_time(std::int64_t unix_seconds);
/// "2026-11-29"
std::string format_day(std::int64_t day);
/// RFC 3339 date-time ("2026-11-29T12:00:00Z", "...T12:00:00.5+01:00"); nullopt when malformed.
std::optional<std::int64_t> parse_time(std::string_view text);

inline std::int64_t day_of(std::int64_t unix_seconds) {
    return unix_seconds >= 0 ? unix_seconds / 86400 : -((-unix_seconds + 86399) / 86400);
}

}  // namespace linkd
