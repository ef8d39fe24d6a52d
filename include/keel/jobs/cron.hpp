#pragma once
/// keel::jobs::Cron: a cron expression (the five fields of crontab(5), in UTC) for
/// Runner::cron, and the times it names.
///
///     auto nightly = jobs::Cron::parse("30 2 * * *");    // 02:30 UTC every day
///     jobs::UnixMillis next = nightly->next_after(now);  // the first 02:30 after now
///
/// Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of
/// week (0-7, 0 and 7 Sunday, or SUN-SAT). Each is `*`, a number, a range `a-b`, a step
/// `*/n` or `a-b/n`, or a comma-separated list of those. When both day fields are restricted
/// a day matches either (as cron does). Also @yearly, @monthly, @weekly, @daily, @hourly.

#include <keel/core/result.hpp>
#include <keel/jobs/job.hpp>

#include <bitset>
#include <string>
#include <string_view>

namespace keel::jobs {

class Cron {
  public:
    /// invalid_argument naming the field and what is wrong with it.
    static Result<Cron> parse(std::string_view expression);

    /// The first minute the expression names strictly after `t` (Unix milliseconds, UTC).
    UnixMillis next_after(UnixMillis t) const;

    const std::string& expression() const noexcept { return expression_; }

  private:
    std::string expression_;
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;     // 1-31
    std::bitset<13> months_;   // 1-12
    std::bitset<7> weekdays_;  // 0 = Sunday
    bool any_day_ = true;      // the day-of-month field is *
    bool any_weekday_ = true;  // the day-of-week field is *
};

}  // namespace keel::jobs
