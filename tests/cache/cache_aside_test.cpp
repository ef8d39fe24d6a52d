// cache_aside and SingleFlight: one load for a herd of misses, stale-while-revalidate,
// stale-if-error, negative entries, and the byte bound.
#include <keel/cache/cache_aside.hpp>
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <support/eventually.hpp>

#include <gtest/gtest.h>

#include <atomic>

namespace {

using namespace std::chrono_literals;
using keel::Result;
using keel::Task;
using keel::cache::AsidePolicy;
using keel::cache::LruCache;
using keel::cache::SingleFlight;

TEST(SingleFlight, HundredConcurrentMissesCauseOneLoad) {
    LruCache<int> cache;
    SingleFlight<Result<int>> flight;
    std::atomic<int> loads{0};
    keel::LoopThread a, b;  // callers on two loops
    std::atomic<int> done{0}, right{0};
    auto start = [&](keel::LoopThread& lt) {
        lt.loop().post([&] {
            for (int i = 0; i < 50; ++i) {
                keel::spawn(
                    [](LruCache<int>& cache, SingleFlight<Result<int>>& flight, std::atomic<int>& loads,
                       std::atomic<int>& right, std::atomic<int>& done) -> Task<void> {
                        auto v = co_await keel::cache::cache_aside(
                            cache, flight, "answer", AsidePolicy<int>{{.ttl = 1h}}, [&]() -> Task<Result<int>> {
                                ++loads;
                                co_await keel::sleep_for(50ms);  // a slow database
                                co_return 42;
                            });
                        right += v.has_value() && *v == 42;
                        ++done;
                    }(cache, flight, loads, right, done),
                    [](std::exception_ptr) {});
            }
        });
    };
    start(a);
    start(b);
    ASSERT_TRUE(keel::test::eventually([&] { return done == 100; }));
    EXPECT_EQ(right, 100);
    EXPECT_EQ(loads, 1);
    EXPECT_EQ(flight.executions(), 1u);
    EXPECT_EQ(flight.shared(), 99u);
    EXPECT_EQ(cache.stats().loads, 1u);
}

struct Source {
    std::atomic<int> calls{0};
    std::atomic<bool> failing{false};
    std::atomic<int> value{1};
    Task<Result<int>> load() {
        ++calls;
        if (failing) {
            co_return keel::Error(keel::Errc::unavailable, "source down");
        }
        co_return value.load();
    }
};

/// The time the caches below see: moved by hand, so TTLs expire exactly when a test says.
std::atomic<keel::TimePoint> g_now{keel::TimePoint{} + 1h};
keel::TimePoint test_now() {
    return g_now.load();
}
void advance(keel::Duration d) {
    g_now.store(g_now.load() + d);
}

/// A cache in front of a Source, read through cache_aside from a loop thread.
class CacheAside : public ::testing::Test {
  protected:
    Result<int> read(const AsidePolicy<int>& policy, LruCache<int>& in) {
        return lt.block_on(
            [&] { return keel::cache::cache_aside(in, flight, "k", policy, [&] { return src.load(); }); });
    }
    Result<int> read(const AsidePolicy<int>& policy) { return read(policy, cache); }

    LruCache<int> cache{{.clock = test_now}};
    SingleFlight<Result<int>> flight;
    Source src;
    keel::LoopThread lt;
};

TEST_F(CacheAside, StaleWhileRevalidateServesAtOnceAndRefreshesInTheBackground) {
    AsidePolicy<int> policy{{.ttl = 50ms, .stale_while_revalidate = 10s}};
    EXPECT_EQ(*read(policy), 1);
    EXPECT_EQ(*read(policy), 1);  // fresh: no load
    EXPECT_EQ(src.calls, 1);
    src.value = 2;
    advance(49ms);
    EXPECT_EQ(*read(policy), 1);  // still fresh: no load
    EXPECT_EQ(src.calls, 1);
    advance(1ms);                 // the entry is now stale
    EXPECT_EQ(*read(policy), 1);  // stale: served as is...
    EXPECT_TRUE(keel::test::eventually([&] { return *read(policy) == 2; }));
    EXPECT_EQ(src.calls, 2);  // ...and reloaded once behind the scenes
}

TEST_F(CacheAside, StaleIfErrorHidesAFailingSource) {
    AsidePolicy<int> policy{{.ttl = 20ms, .stale_if_error = 10s}};
    EXPECT_EQ(*read(policy), 1);
    advance(20ms);  // past the TTL
    src.failing = true;
    auto r = read(policy);
    ASSERT_TRUE(r);  // the error is hidden by the stale value
    EXPECT_EQ(*r, 1);
    EXPECT_EQ(cache.stats().load_errors, 1u);
    LruCache<int> empty{{.clock = test_now}};
    auto none = read(policy, empty);
    ASSERT_FALSE(none);  // nothing to fall back on: the error
    EXPECT_EQ(none.error().code(), keel::Errc::unavailable);
}

TEST_F(CacheAside, NegativeValuesUseTheirOwnTtl) {
    src.value = 0;  // "not found"
    AsidePolicy<int> policy{{.ttl = 1h}, 30ms, [](const int& v) { return v == 0; }};
    EXPECT_EQ(*read(policy), 0);
    EXPECT_EQ(*read(policy), 0);
    EXPECT_EQ(src.calls, 1);
    src.value = 5;
    advance(29ms);
    EXPECT_EQ(*read(policy), 0);  // still within the negative TTL
    advance(1ms);
    EXPECT_EQ(*read(policy), 5);  // the negative entry expired quickly
    EXPECT_EQ(src.calls, 2);
}

TEST(LruCacheBytes, TheByteBoundEvictsLeastRecentlyUsed) {
    LruCache<std::string> c({.max_entries = 1000, .max_bytes = 100, .shards = 1});
    keel::cache::EntryPolicy p{.ttl = 1h};
    c.put("a", std::string(30, 'a'), p, 30);  // 31 bytes with the key
    c.put("b", std::string(30, 'b'), p, 30);
    c.put("c", std::string(30, 'c'), p, 30);  // 93
    EXPECT_TRUE(c.get("a"));                  // a is now the most recent
    c.put("d", std::string(30, 'd'), p, 30);  // 124 > 100: b goes
    EXPECT_FALSE(c.get("b"));
    EXPECT_TRUE(c.get("a"));
    EXPECT_TRUE(c.get("d"));
    auto s = c.stats();
    EXPECT_EQ(s.evictions, 1u);
    EXPECT_EQ(s.bytes, 93u);
}

}  // namespace
