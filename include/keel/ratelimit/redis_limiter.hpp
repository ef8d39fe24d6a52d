#pragma once
/// keel::ratelimit::RedisLimiter: GCRA with its state in Redis, so that a limit holds across
/// every instance of a service. One Lua script per check reads the key's TAT, decides and
/// writes it back atomically, on Redis' own clock (instances' clocks never disagree).
///
/// When Redis cannot be reached the limiter fails open (allows: a limiter should not take the
/// service down with it; the default) or closed (denies), and counts how often.

#include <keel/cache/redis.hpp>
#include <keel/ratelimit/limiter.hpp>

#include <atomic>
#include <string>

namespace keel::ratelimit {

struct RedisLimiterOptions {
    std::string prefix = "keel:rl:";
    bool fail_open = true;
};

class RedisLimiter final : public Limiter {
public:
    RedisLimiter(redis::Client& redis, Limit limit, RedisLimiterOptions options = {});
    Task<Decision> check(std::string key) override;
    const Limit& limit() const noexcept override { return limit_; }
    /// Checks answered without Redis (allowed when failing open, denied when closed).
    std::uint64_t unavailable() const noexcept { return unavailable_.load(); }

private:
    redis::Client& redis_;
    Limit limit_;
    RedisLimiterOptions options_;
    std::atomic<std::uint64_t> unavailable_{0};
};

}  // namespace keel::ratelimit
