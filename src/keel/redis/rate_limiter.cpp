#include <keel/redis/rate_limiter.hpp>

namespace keel::redis {
namespace {

// KEYS[1] key; ARGV[1] interval µs; ARGV[2] burst. Returns {allowed, remaining, reset µs,
// retry after µs}. Times are Redis' TIME in µs (exact in a Lua double up to 2^53).
constexpr const char* kScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), new_tat - now, 0}
)lua";

}  // namespace

RateLimiter::RateLimiter(Client& redis, ratelimit::Limit limit, RateLimiterOptions options)
    : redis_(redis), limit_(limit), options_(std::move(options)) {}

Task<ratelimit::Decision> RateLimiter::check(std::string key) {
    auto interval_us = std::chrono::duration_cast<std::chrono::microseconds>(limit_.interval()).count();
    // Built before co_await: GCC 12 mis-compiles string literals in a braced list inside one.
    std::vector<std::string> args{
        "EVAL", kScript, "1", options_.prefix + key, std::to_string(interval_us), std::to_string(limit_.burst)};
    auto r = co_await redis_.command(std::move(args));
    ratelimit::Decision d;
    d.limit = limit_.burst;
    if (!r || r->type != Reply::Type::array || r->elements.size() != 4) {
        unavailable_.fetch_add(1, std::memory_order_relaxed);
        if (!r) {
            report(r.error().message());
        } else if (r->is_error()) {
            report(r->str);  // NOAUTH, a script error, ...
        } else {
            report("unexpected reply to the limiter's script");
        }
        d.allowed = options_.fail_open;
        d.retry_after = options_.fail_open ? Duration::zero() : std::chrono::seconds(1);
        co_return d;
    }
    auto us = [](long long v) { return std::chrono::duration_cast<Duration>(std::chrono::microseconds(v)); };
    d.allowed = r->elements[0].integer == 1;
    d.remaining = static_cast<std::uint32_t>(r->elements[1].integer);
    d.reset = us(r->elements[2].integer);
    d.retry_after = us(r->elements[3].integer);
    co_return d;
}

void RateLimiter::report(std::string_view reason) {
    if (!options_.on_unavailable) {
        return;
    }
    // One report per interval across every loop: whoever moves the stamp reports.
    Duration::rep now = Clock::now().time_since_epoch().count() + 1;
    Duration::rep last = last_report_.load(std::memory_order_relaxed);
    if (last != 0 && now - last < options_.report_every.count()) {
        return;
    }
    if (last_report_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
        options_.on_unavailable(reason, options_.fail_open);
    }
}

}  // namespace keel::redis
