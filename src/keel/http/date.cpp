#include <keel/http/date.hpp>

#include <cstring>
#include <ctime>

namespace keel::http {
namespace {

constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void two_digits(char* at, int v) {
    at[0] = static_cast<char>('0' + v / 10);
    at[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

void format_http_date(std::int64_t t, char (&out)[kHttpDateSize]) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    std::memcpy(out, "Sun, 00 Jan 0000 00:00:00 GMT", kHttpDateSize);
    std::memcpy(out, kWeekdays[tm.tm_wday], 3);
    two_digits(&out[5], tm.tm_mday);
    std::memcpy(&out[8], kMonths[tm.tm_mon], 3);
    int year = tm.tm_year + 1900;
    two_digits(&out[12], year / 100 % 100);
    two_digits(&out[14], year % 100);
    two_digits(&out[17], tm.tm_hour);
    two_digits(&out[20], tm.tm_min);
    two_digits(&out[23], tm.tm_sec);
}

std::string format_http_date(std::int64_t t) {
    char out[kHttpDateSize];
    format_http_date(t, out);
    return std::string(out, kHttpDateSize);
}

std::optional<std::int64_t> parse_http_date(std::string_view s) {
    // "Sun, 29 Nov 2026 12:00:00 GMT": fixed positions.
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
        s[22] != ':' || s.substr(25) != " GMT") {
        return std::nullopt;
    }
    auto num = [&](std::size_t pos, std::size_t n) -> int {
        int v = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') {
                return -1;
            }
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    int mon = -1;
    for (int i = 0; i < 12; ++i) {
        if (s.substr(8, 3) == kMonths[i]) {
            mon = i;
        }
    }
    int day = num(5, 2), year = num(12, 4), h = num(17, 2), m = num(20, 2), sec = num(23, 2);
    if (mon < 0 || day < 1 || day > 31 || year < 1970 || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60) {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = day;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec == 60 ? 59 : sec;
    return static_cast<std::int64_t>(::timegm(&tm));
}

}  // namespace keel::http
