// keel::cache::LruCache: hits and misses, TTL, LRU eviction per shard, invalidation, and
// concurrent use from several threads.
#include <keel/cache/lru_cache.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <thread>

namespace {

using namespace std::chrono_literals;
using keel::cache::LruCache;

TEST(LruCache, HitsMissesAndTtl) {
    LruCache<int> c({.max_entries = 100, .shards = 4});
    keel::TimePoint t0{};
    EXPECT_EQ(c.get("a", t0), std::nullopt);
    c.put("a", 1, 10s, t0);
    EXPECT_EQ(c.get("a", t0 + 9s), 1);
    EXPECT_EQ(c.get("a", t0 + 10s), std::nullopt);  // expired: gone
    EXPECT_EQ(c.get("a", t0), std::nullopt);        // and removed
    c.put("b", 2, 10s, t0);
    c.put("b", 3, 20s, t0);  // replaces value and TTL
    EXPECT_EQ(c.get("b", t0 + 15s), 3);
    auto s = c.stats();
    EXPECT_EQ(s.hits, 2u);
    EXPECT_EQ(s.misses, 3u);
    EXPECT_EQ(s.entries, 1u);
}

TEST(LruCache, EvictsTheLeastRecentlyUsed) {
    LruCache<int> c({.max_entries = 3, .shards = 1});
    keel::TimePoint t0{};
    c.put("a", 1, 1h, t0);
    c.put("b", 2, 1h, t0);
    c.put("c", 3, 1h, t0);
    EXPECT_EQ(c.get("a", t0), 1);  // a is now the most recent
    c.put("d", 4, 1h, t0);         // evicts b
    EXPECT_EQ(c.get("b", t0), std::nullopt);
    EXPECT_EQ(c.get("a", t0), 1);
    EXPECT_EQ(c.get("c", t0), 3);
    EXPECT_EQ(c.get("d", t0), 4);
    EXPECT_EQ(c.stats().evictions, 1u);
    EXPECT_EQ(c.stats().entries, 3u);
}

TEST(LruCache, EraseAndClear) {
    LruCache<std::string> c;
    c.put("k", "v", 1h);
    EXPECT_TRUE(c.erase("k"));
    EXPECT_FALSE(c.erase("k"));
    EXPECT_EQ(c.get("k"), std::nullopt);
    c.put("x", "1", 1h);
    c.clear();
    EXPECT_EQ(c.stats().entries, 0u);
}

TEST(LruCache, ConcurrentReadersAndWritersStayConsistent) {
    LruCache<int> c({.max_entries = 1000, .shards = 8});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&c, t] {
            for (int i = 0; i < 20000; ++i) {
                std::string key = "k" + std::to_string((i * 7 + t) % 1500);
                if (i % 3 == 0) {
                    c.put(key, i, 1h);
                } else if (auto v = c.get(key)) {
                    EXPECT_GE(*v, 0);
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_LE(c.stats().entries, 1000u + 8u);  // the bound holds per shard (rounded up)
}

TEST(LruCache, VisitReadsInPlaceAndCountsLikeGet) {
    LruCache<std::shared_ptr<const std::string>> c({.max_entries = 10, .shards = 2});
    keel::TimePoint t0{};
    auto value = std::make_shared<const std::string>("https://example.com/");
    c.put("k", value, 10s, t0);
    std::string seen;
    EXPECT_TRUE(c.visit(
        "k", [&](const std::shared_ptr<const std::string>& v) { seen = *v; }, t0 + 1s));
    EXPECT_EQ(seen, "https://example.com/");
    EXPECT_EQ(value.use_count(), 2);  // the cache's copy and ours: visit copied nothing
    EXPECT_FALSE(c.visit(
        "k", [&](const auto&) { ADD_FAILURE() << "expired"; }, t0 + 10s));
    EXPECT_FALSE(c.visit(
        "absent", [&](const auto&) { ADD_FAILURE() << "absent"; }, t0));
    auto s = c.stats();
    EXPECT_EQ(s.hits, 1u);
    EXPECT_EQ(s.misses, 2u);
}

TEST(LruCache, MoreThreadsThanReadSlotsStayConsistent) {
    // 12 threads share SpreadLock's 8 read slots; erase and clear race with visits and gets.
    LruCache<std::shared_ptr<const int>> c({.max_entries = 500, .shards = 4});
    std::vector<std::thread> threads;
    for (int t = 0; t < 12; ++t) {
        threads.emplace_back([&c, t] {
            for (int i = 0; i < 5000; ++i) {
                std::string key = "k" + std::to_string((i * 5 + t) % 700);
                switch (i % 7) {
                    case 0:
                        c.put(key, std::make_shared<const int>(i), 1h);
                        break;
                    case 1:
                        c.erase(key);
                        break;
                    case 2:
                        if (i % 700 == 2)
                            c.clear();
                        break;
                    case 3:
                        c.visit(key, [](const std::shared_ptr<const int>& v) { EXPECT_GE(*v, 0); });
                        break;
                    default:
                        if (auto v = c.get(key)) {
                            EXPECT_GE(**v, 0);
                        }
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    auto s = c.stats();
    EXPECT_LE(s.entries, 500u + 4u);
    EXPECT_GT(s.hits + s.misses, 0u);
}

}  // namespace
