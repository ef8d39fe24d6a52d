// GCRA arithmetic with a fake clock, the local limiter's memory bound, and the middleware's
// headers and 429 over a real socket.
#include <keel/ratelimit/middleware.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/recorder.hpp>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using keel::TimePoint;
using keel::ratelimit::Decision;
using keel::ratelimit::gcra;
using keel::ratelimit::Limit;
using keel::ratelimit::LocalLimiter;

TEST(Gcra, BurstThenSteadyRate) {
    Limit l{.rate = 2.0, .burst = 3};  // 3 at once, then one every 500 ms
    TimePoint t0{std::chrono::seconds(1000)};
    TimePoint tat{};
    for (std::uint32_t i = 0; i < 3; ++i) {
        Decision d = gcra(tat, t0, l);
        EXPECT_TRUE(d.allowed) << i;
        EXPECT_EQ(d.limit, 3u);
        EXPECT_EQ(d.remaining, 2 - i);
    }
    Decision denied = gcra(tat, t0, l);
    EXPECT_FALSE(denied.allowed);
    EXPECT_EQ(denied.remaining, 0u);
    EXPECT_EQ(denied.retry_after, 500ms);
    EXPECT_EQ(denied.reset, 1500ms);  // three intervals to refill completely
    EXPECT_FALSE(gcra(tat, t0 + 499ms, l).allowed);
    Decision next = gcra(tat, t0 + 500ms, l);
    EXPECT_TRUE(next.allowed);
    EXPECT_EQ(next.remaining, 0u);
    // A denied request does not move the state: still allowed exactly at +1000 ms.
    EXPECT_FALSE(gcra(tat, t0 + 999ms, l).allowed);
    EXPECT_TRUE(gcra(tat, t0 + 1000ms, l).allowed);
    // After a long idle time the full burst is back, and no more.
    int allowed = 0;
    for (int i = 0; i < 10; ++i) {
        allowed += gcra(tat, t0 + 60s, l).allowed;
    }
    EXPECT_EQ(allowed, 3);
}

TEST(Gcra, AllowedCountOverTimeMatchesTheRate) {
    Limit l{.rate = 10.0, .burst = 5};
    TimePoint t0{std::chrono::seconds(1)};
    TimePoint tat{};
    int allowed = 0;
    for (int ms = 0; ms < 10'000; ++ms) {  // a request every millisecond for 10 s
        allowed += gcra(tat, t0 + std::chrono::milliseconds(ms), l).allowed;
    }
    EXPECT_EQ(allowed, 5 + 100 - 1);  // the burst, then 10/s for the remaining ~9.9 s
}

TEST(LocalLimiter, KeysAreIndependentAndMemoryIsBounded) {
    LocalLimiter lim(Limit{.rate = 1, .burst = 1}, {.max_keys = 64, .shards = 4});
    TimePoint now{std::chrono::seconds(100)};
    EXPECT_TRUE(lim.allow("a", now).allowed);
    EXPECT_FALSE(lim.allow("a", now).allowed);
    EXPECT_TRUE(lim.allow("b", now).allowed);
    for (int i = 0; i < 10'000; ++i) {
        lim.allow("k" + std::to_string(i), now + std::chrono::seconds(i));
    }
    EXPECT_LE(lim.keys(), 64u);
    EXPECT_THROW(LocalLimiter(Limit{.rate = 0, .burst = 1}), std::invalid_argument);
}

TEST(RateLimitMiddleware, HeadersOnEveryAnswerAnd429WhenDenied) {
    auto lim = std::make_shared<LocalLimiter>(Limit{.rate = 1, .burst = 2});
    keel::router::Router r;
    r.use(keel::ratelimit::rate_limit(
        lim, [](keel::http::Request& req) { return std::string(req.header("X-Key").value_or("")); }));
    r.get("/x", [](keel::http::Request&) { return keel::http::Response::text("ok"); });
    auto h = r.handler();
    auto call = [&](const char* key) {
        return keel::testing::call(h, keel::testing::TestRequest{"GET", "/x"}.with_header("X-Key", key));
    };
    auto a = call("alice");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.header("RateLimit-Limit"), "2");
    EXPECT_EQ(a.header("RateLimit-Remaining"), "1");
    EXPECT_EQ(a.header("RateLimit-Reset"), "1");
    EXPECT_EQ(call("alice").status, 200);
    auto denied = call("alice");
    EXPECT_EQ(denied.status, 429);
    EXPECT_EQ(denied.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(denied.header("Retry-After"), "1");
    EXPECT_EQ(denied.header("RateLimit-Remaining"), "0");
    EXPECT_NE(denied.body.find("rate limit exceeded: 2 requests at once, then 1 per second"), std::string::npos)
        << denied.body;
    EXPECT_EQ(call("bob").status, 200);  // another key has its own budget
    auto unkeyed = keel::testing::call(h, keel::testing::TestRequest{"GET", "/x"});
    EXPECT_EQ(unkeyed.status, 200);
    EXPECT_FALSE(unkeyed.header("RateLimit-Limit"));  // no key: not limited
}

}  // namespace
