#pragma once
/// keel::ratelimit: the Generic Cell Rate Algorithm. A key may make `burst` requests at once and
/// then one every 1/rate seconds; its whole state is one time stamp, the theoretical arrival
/// time (TAT) of its next request, which makes it cheap to keep in memory and to update
/// atomically in Redis.
///
///     Limit creation{.rate = 2.0, .burst = 10};   // 10 at once, then 2 per second
///     Decision d = gcra(tat, now, creation);      // updates tat when allowed

#include <keel/core/loop.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace keel::ratelimit {

struct Limit {
    double rate = 1.0;        ///< sustained requests per second (> 0)
    std::uint32_t burst = 1;  ///< requests allowed at once (>= 1)

    Duration interval() const noexcept {
        return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / rate));
    }
};

struct Decision {
    bool allowed = false;
    std::uint32_t limit = 0;      ///< the burst (RateLimit-Limit)
    std::uint32_t remaining = 0;  ///< requests still allowed right now (RateLimit-Remaining)
    Duration reset{};             ///< until the key is back to a full burst (RateLimit-Reset)
    Duration retry_after{};       ///< when denied: until the next request is allowed
};

/// One GCRA step for a key whose state is `tat` (TimePoint{} for a new key).
inline Decision gcra(TimePoint& tat, TimePoint now, const Limit& limit) {
    const Duration t = limit.interval();
    const Duration tolerance = t * static_cast<Duration::rep>(limit.burst);
    TimePoint base = std::max(tat, now);
    TimePoint new_tat = base + t;
    TimePoint allow_at = new_tat - tolerance;
    Decision d;
    d.limit = limit.burst;
    if (now < allow_at) {
        d.allowed = false;
        d.retry_after = allow_at - now;
        d.reset = base - now;
        d.remaining = 0;
        return d;
    }
    tat = new_tat;
    d.allowed = true;
    d.reset = new_tat - now;
    // How many more fit before now < allow_at: (now - allow_at) / t, whole requests.
    d.remaining = static_cast<std::uint32_t>((now - allow_at) / t);
    return d;
}

}  // namespace keel::ratelimit
