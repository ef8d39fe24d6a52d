// linkd's shared redirect cache against a real redis-server: answers round-trip, a change
// leaves a unique mark and is announced to subscribers, and a lookup that read the database
// before a change cannot store its old answer after it.
#include "cache/redis_link_cache.hpp"

#include <keel/core/loop_thread.hpp>

#include <support/eventually.hpp>
#include <support/redis_server.hpp>

#include <gtest/gtest.h>

#include <mutex>

namespace {

using namespace std::chrono_literals;
using linkd::CachedAnswer;
using linkd::CachedLink;
using linkd::RedisLinkCache;
using linkd::SharedLookup;

CachedAnswer link(std::string url) {
    return std::make_shared<const CachedLink>(CachedLink{1, std::move(url), false, {}});
}

class RedisLinkCacheTest : public ::testing::Test {
  protected:
    keel::test::RedisServer server_;
    keel::LoopThread loop_;
    keel::redis::Client redis_{{.port = server_.port()}};
    std::mutex mu_;
    std::vector<std::string> forgotten_;
    RedisLinkCache cache_{redis_, loop_.loop(),
                          RedisLinkCache::Listeners{[this](std::string_view slug) {
                                                        std::lock_guard lock(mu_);
                                                        forgotten_.emplace_back(slug);
                                                    },
                                                    [] {}, [] {}}};

    ~RedisLinkCacheTest() override {
        loop_.block_on([this] { return cache_.close(); });
    }
    SharedLookup get(const std::string& slug) {
        return loop_.block_on([&] { return cache_.get(slug); });
    }
    void put(const std::string& slug, CachedAnswer a, const std::string& version) {
        loop_.block_on([&] { return cache_.put(slug, std::move(a), 1h, version); });
    }
    void invalidate(const std::string& slug) {
        loop_.block_on([&] { return cache_.invalidate(slug); });
    }
};

TEST_F(RedisLinkCacheTest, AStaleLookupCannotStoreOverAChange) {
    ASSERT_TRUE(keel::test::eventually([&] { return cache_.stats().subscribed; }));
    auto first = get("slug-a");
    EXPECT_FALSE(first.answer.has_value());
    ASSERT_EQ(first.version, "");  // absent
    put("slug-a", link("https://v1.example/"), *first.version);
    auto hit = get("slug-a");
    ASSERT_TRUE(hit.answer && *hit.answer);
    EXPECT_EQ((*hit.answer)->url, "https://v1.example/");

    // A lookup saw the slug absent and read the database; meanwhile the slug changed.
    put("slug-b", nullptr, "");  // (a negative answer round-trips too)
    ASSERT_TRUE(get("slug-b").answer.has_value());
    EXPECT_EQ(*get("slug-b").answer, nullptr);
    invalidate("slug-a");
    auto after = get("slug-a");
    EXPECT_FALSE(after.answer.has_value());
    ASSERT_TRUE(after.version.has_value());
    EXPECT_EQ(after.version->front(), '!');                // the change's mark
    put("slug-a", link("https://v1-stale.example/"), "");  // what the slow lookup saw: refused
    EXPECT_FALSE(get("slug-a").answer.has_value());
    put("slug-a", link("https://v2.example/"), *after.version);  // a lookup after the change: stored
    EXPECT_EQ((*get("slug-a").answer)->url, "https://v2.example/");

    invalidate("slug-a");
    auto again = get("slug-a");
    EXPECT_NE(again.version, after.version);                           // every change leaves its own mark
    put("slug-a", link("https://v2-stale.example/"), *after.version);  // the previous mark: refused
    EXPECT_FALSE(get("slug-a").answer.has_value());

    keel::test::eventually([&] {
        std::lock_guard lock(mu_);
        return forgotten_.size() >= 2;
    });
    std::lock_guard lock(mu_);
    EXPECT_EQ(forgotten_, (std::vector<std::string>{"slug-a", "slug-a"}));  // announced to subscribers
    EXPECT_EQ(cache_.stats().invalidations_sent, 2u);
}

}  // namespace
