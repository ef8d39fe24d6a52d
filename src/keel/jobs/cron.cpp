// Cron expressions: each field becomes the set of values it allows; next_after walks forward
// a month, a day, an hour or a minute at a time, whichever field does not match (so a yearly
// expression takes a few dozen steps, not half a million minutes).
#include <keel/jobs/cron.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <vector>

namespace keel::jobs {
namespace {

struct Field {
    const char* name;
    int min, max;
    std::array<std::string_view, 13> names;  // names[i] is value min + i (empty: none)
};

constexpr Field kMinute{"minute", 0, 59, {}};
constexpr Field kHour{"hour", 0, 23, {}};
constexpr Field kDay{"day of month", 1, 31, {}};
constexpr Field kMonth{
    "month", 1, 12, {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}};
constexpr Field kWeekday{"day of week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}};

Error invalid(const Field& f, std::string_view part, std::string_view why) {
    return Error::with_detail(Errc::invalid_argument,
                              "cron: " + std::string(f.name) + " \"" + std::string(part) + "\": " + std::string(why));
}

Result<int> value(const Field& f, std::string_view text) {
    for (std::size_t i = 0; i < f.names.size(); ++i) {
        if (!f.names[i].empty() && text.size() == 3 &&
            std::equal(text.begin(), text.end(), f.names[i].begin(),
                       [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; })) {
            return f.min + static_cast<int>(i);
        }
    }
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        return invalid(f, text, "not a number");
    }
    if (v < f.min || v > f.max) {
        return invalid(f, text, "out of " + std::to_string(f.min) + "-" + std::to_string(f.max));
    }
    return v;
}

// The values `text` allows (a comma-separated list of *, n, a-b, */s, a-b/s, n/s).
Result<std::vector<bool>> values(const Field& f, std::string_view text) {
    std::vector<bool> allowed(static_cast<std::size_t>(f.max + 1), false);
    while (true) {
        std::size_t comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        std::string_view range = part.substr(0, part.find('/'));
        int step = 1;
        if (range.size() < part.size()) {
            std::string_view s = part.substr(range.size() + 1);
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
            if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || step < 1) {
                return invalid(f, part, "the step must be a positive number");
            }
        }
        int lo = f.min, hi = f.max;
        if (range != "*") {
            std::size_t dash = range.find('-');
            KEEL_TRY(a, value(f, range.substr(0, dash)));
            lo = a;
            hi = a;
            if (dash != std::string_view::npos) {
                KEEL_TRY(b, value(f, range.substr(dash + 1)));
                if (b < a) {
                    return invalid(f, part, "the range ends before it starts");
                }
                hi = b;
            } else if (step > 1) {
                hi = f.max;  // "n/s": from n on
            }
        }
        for (int v = lo; v <= hi; v += step) {
            allowed[static_cast<std::size_t>(v)] = true;
        }
        if (comma == std::string_view::npos) {
            return allowed;
        }
        text.remove_prefix(comma + 1);
    }
}

template <std::size_t N>
void fill(std::bitset<N>& bits, const std::vector<bool>& allowed) {
    for (std::size_t i = 0; i < N && i < allowed.size(); ++i) {
        bits[i] = allowed[i];
    }
}

std::string_view macro(std::string_view e) {
    if (e == "@yearly" || e == "@annually") {
        return "0 0 1 1 *";
    }
    if (e == "@monthly") {
        return "0 0 1 * *";
    }
    if (e == "@weekly") {
        return "0 0 * * 0";
    }
    if (e == "@daily" || e == "@midnight") {
        return "0 0 * * *";
    }
    if (e == "@hourly") {
        return "0 * * * *";
    }
    return e;
}

}  // namespace

Result<Cron> Cron::parse(std::string_view expression) {
    Cron c;
    c.expression_ = std::string(expression);
    std::string_view e = macro(expression);
    std::vector<std::string_view> parts;
    while (!e.empty()) {
        std::size_t start = e.find_first_not_of(" \t");
        if (start == std::string_view::npos) {
            break;
        }
        e.remove_prefix(start);
        std::size_t end = e.find_first_of(" \t");
        parts.push_back(e.substr(0, end));
        e.remove_prefix(end == std::string_view::npos ? e.size() : end);
    }
    if (parts.size() != 5) {
        return Error::with_detail(Errc::invalid_argument,
                                  "cron: \"" + c.expression_ +
                                      "\" needs five fields (minute hour day-of-month month day-of-week) "
                                      "or a macro such as @daily");
    }
    KEEL_TRY(minutes, values(kMinute, parts[0]));
    KEEL_TRY(hours, values(kHour, parts[1]));
    KEEL_TRY(days, values(kDay, parts[2]));
    KEEL_TRY(months, values(kMonth, parts[3]));
    KEEL_TRY(weekdays, values(kWeekday, parts[4]));
    fill(c.minutes_, minutes);
    fill(c.hours_, hours);
    fill(c.days_, days);
    fill(c.months_, months);
    fill(c.weekdays_, weekdays);
    c.weekdays_[0] = c.weekdays_[0] || weekdays[7];  // 7 is Sunday too
    c.any_day_ = parts[2] == "*";
    c.any_weekday_ = parts[4] == "*";
    if (!c.any_day_ && c.any_weekday_) {
        // Only the day of month decides: some allowed month must have some allowed day.
        constexpr std::array<int, 13> kLongest = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool possible = false;
        for (int month = 1; month <= 12 && !possible; ++month) {
            for (int day = 1; day <= kLongest[static_cast<std::size_t>(month)] && c.months_[month]; ++day) {
                possible = possible || c.days_[static_cast<std::size_t>(day)];
            }
        }
        if (!possible) {
            return Error::with_detail(Errc::invalid_argument,
                                      "cron: \"" + c.expression_ + "\" names a day no month has");
        }
    }
    return c;
}

UnixMillis Cron::next_after(UnixMillis t) const {
    using namespace std::chrono;
    using Minutes = time_point<system_clock, minutes>;
    Minutes m = floor<minutes>(time_point<system_clock, milliseconds>(milliseconds(t))) + minutes(1);
    // Five years covers every expression that can match at all (29 February included).
    const Minutes limit = m + hours(24 * 366 * 5);
    while (m < limit) {
        sys_days day = floor<days>(m);
        year_month_day ymd(day);
        unsigned month = static_cast<unsigned>(ymd.month());
        if (!months_[month]) {
            m = sys_days(year_month_day(ymd.year() / ymd.month() / 1) + std::chrono::months(1));
            continue;
        }
        bool dom = days_[static_cast<unsigned>(ymd.day())];
        bool dow = weekdays_[weekday(day).c_encoding()];
        bool day_ok = any_day_ && any_weekday_ ? true : any_day_ ? dow : any_weekday_ ? dom : dom || dow;
        if (!day_ok) {
            m = day + days(1);
            continue;
        }
        auto since_midnight = m - day;
        auto h = duration_cast<hours>(since_midnight);
        if (!hours_[static_cast<std::size_t>(h.count())]) {
            m = day + h + hours(1);
            continue;
        }
        auto mi = duration_cast<minutes>(since_midnight - h);
        if (!minutes_[static_cast<std::size_t>(mi.count())]) {
            m += minutes(1);
            continue;
        }
        return duration_cast<milliseconds>(m.time_since_epoch()).count();
    }
    return -1;  // unreachable for a parsed expression (parse refuses days no month has)
}

}  // namespace keel::jobs
