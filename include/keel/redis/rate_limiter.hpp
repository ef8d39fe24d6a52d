#pragma once
/// keel::redis::RateLimiter: GCRA with its state in Redis, so that a limit holds across
/// every instance of a service. One Lua script per check reads the key's TAT, decides and
/// writes it back atomically, on Redis' own clock (instances' clocks never disagree).
///
/// When Redis cannot be reached the limiter fails open (allows: a limiter should not take the
/// service down with it; the default) or closed (denies), and counts how often.

#include <keel/ratelimit/limiter.hpp>
#include <keel/redis/client.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

namespace keel::redis {

struct RateLimiterOptions {
    std::string prefix = "keel:rl:";
    bool fail_open = true;
    /// Told why Redis could not decide (its error, or the reply it did not expect), at most
    /// once per `report_every` while the trouble lasts: a limiter failing open silently is
    /// no limiter, and one line per request would flood the log. Runs on a loop thread.
    std::function<void(std::string_view reason, bool failing_open)> on_unavailable = {};
    Duration report_every = std::chrono::seconds(10);
};

class RateLimiter final : public ratelimit::Limiter {
  public:
    RateLimiter(Client& redis, ratelimit::Limit limit, RateLimiterOptions options = {});
    Task<ratelimit::Decision> check(std::string key) override;
    const ratelimit::Limit& limit() const noexcept override { return limit_; }
    /// Checks answered without Redis (allowed when failing open, denied when closed).
    std::uint64_t unavailable() const noexcept { return unavailable_.load(); }

  private:
    Client& redis_;
    ratelimit::Limit limit_;
    RateLimiterOptions options_;
    void report(std::string_view reason);

    std::atomic<std::uint64_t> unavailable_{0};
    std::atomic<Duration::rep> last_report_{0};  // steady-clock time of the last report (+1)
};

}  // namespace keel::redis
