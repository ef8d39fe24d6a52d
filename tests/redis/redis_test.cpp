// The Redis client and the Redis-backed rate limiter against a real redis-server: commands and
// reply types, pipelining, a limit shared by two instances, Redis killed (fail open / closed)
// and back (reconnects by itself); pub/sub, in order, resubscribing after an outage.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/redis/client.hpp>
#include <keel/redis/rate_limiter.hpp>
#include <keel/redis/subscriber.hpp>

#include <support/eventually.hpp>
#include <support/latch.hpp>
#include <support/redis_server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;
using keel::Task;
using keel::redis::Reply;
using keel::test::eventually;

class Redis : public ::testing::Test {
  protected:
    keel::test::RedisServer server_;
    keel::LoopThread loop_;
    keel::redis::Options options() const {
        return {.port = server_.port(), .reconnect_min = 20ms, .reconnect_max = 100ms};
    }
    keel::Result<Reply> run(keel::redis::Client& redis, std::vector<std::string> args) {
        return loop_.block_on([&] { return redis.command(args); });
    }
};

TEST_F(Redis, CommandsAndReplyTypes) {
    keel::redis::Client redis(options());
    auto set = run(redis, {"SET", "greeting", "hello world"});
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_EQ(set->type, Reply::Type::status);
    EXPECT_EQ(set->str, "OK");
    EXPECT_EQ(run(redis, {"GET", "greeting"})->str, "hello world");
    EXPECT_TRUE(run(redis, {"GET", "missing"})->is_nil());
    EXPECT_EQ(run(redis, {"INCRBY", "n", "41"})->integer, 41);
    auto list = run(redis, {"MGET", "greeting", "missing"});
    ASSERT_EQ(list->type, Reply::Type::array);
    EXPECT_EQ(list->elements.size(), 2u);
    EXPECT_TRUE(run(redis, {"NOSUCHCOMMAND"})->is_error());
    EXPECT_EQ(redis.stats().connects, 1u);
}

TEST_F(Redis, ConcurrentCommandsArePipelinedOnOneConnection) {
    keel::redis::Client redis(options());
    int ok = loop_.block_on([&]() -> Task<int> {
        int good = 0;
        keel::test::Latch done(200);
        for (int i = 0; i < 200; ++i) {
            keel::spawn(
                [](keel::redis::Client& r, int& good, keel::test::Latch& done) -> Task<void> {
                    std::vector<std::string> incr{"INCR", "counter"};  // (not inline: a GCC 12 bug)
                    auto x = co_await r.command(std::move(incr));
                    good += x.has_value() && x->type == Reply::Type::integer;
                    done.count_down();
                }(redis, good, done),
                [](std::exception_ptr) {});
        }
        co_await done.wait();
        co_return good;
    });
    EXPECT_EQ(ok, 200);
    EXPECT_EQ(run(redis, {"GET", "counter"})->str, "200");
    EXPECT_EQ(redis.stats().connects, 1u);
}

TEST_F(Redis, ALimitIsSharedByTwoInstances) {
    // Two instances: two clients (two connections), one limit kept in Redis.
    keel::redis::Client a(options()), b(options());
    keel::ratelimit::Limit limit{.rate = 0.01, .burst = 10};  // 10 now, then one per 100 s
    keel::redis::RateLimiter la(a, limit), lb(b, limit);
    int allowed = 0;
    for (int i = 0; i < 30; ++i) {
        auto& lim = i % 2 ? la : lb;
        auto d = loop_.block_on([&] { return lim.check("client-42"); });
        allowed += d.allowed;
        if (i == 0) {
            EXPECT_EQ(d.remaining, 9u);
            EXPECT_EQ(d.limit, 10u);
        }
        if (!d.allowed) {
            EXPECT_GT(d.retry_after, 90s);
        }
    }
    EXPECT_EQ(allowed, 10);  // the sum across both instances is the limit
    EXPECT_TRUE(loop_.block_on([&] { return la.check("client-7"); }).allowed);  // another key
    EXPECT_EQ(la.unavailable() + lb.unavailable(), 0u);
}

TEST_F(Redis, OutageFailsFastThenReconnectsByItself) {
    keel::redis::Client redis(options());
    keel::redis::RateLimiter open(redis, {.rate = 1, .burst = 1}, {.fail_open = true});
    keel::redis::RateLimiter closed(redis, {.rate = 1, .burst = 1}, {.fail_open = false});
    ASSERT_TRUE(run(redis, {"PING"}));
    server_.stop();
    auto t0 = keel::Clock::now();
    auto down = run(redis, {"PING"});
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code(), keel::Errc::unavailable) << down.error().message();
    EXPECT_LT(keel::Clock::now() - t0, 600ms);  // within the command timeout, never a hang
    EXPECT_TRUE(loop_.block_on([&] { return open.check("k"); }).allowed);
    EXPECT_FALSE(loop_.block_on([&] { return closed.check("k"); }).allowed);
    EXPECT_EQ(open.unavailable(), 1u);
    EXPECT_EQ(closed.unavailable(), 1u);
    server_.start();
    keel::Result<Reply> back = keel::Error(keel::Errc::internal, "not tried");
    ASSERT_TRUE(eventually([&] { return bool(back = run(redis, {"PING"})); }, 5s)) << back.error().message();
    EXPECT_EQ(back->str, "PONG");
    EXPECT_GE(redis.stats().connects, 2u);
}

/// What a subscriber has seen, read from the test thread.
struct Inbox {
    std::mutex mu;
    std::vector<std::string> messages;
    std::atomic<int> subscribed{0};
    std::size_t size() {
        std::lock_guard lock(mu);
        return messages.size();
    }
};

TEST_F(Redis, SubscribersGetEveryMessageInOrderAndResubscribeAfterAnOutage) {
    keel::redis::Client publisher(options());
    Inbox inbox;
    keel::LoopThread sub_loop;
    keel::redis::Subscriber sub(
        sub_loop.loop(), options(), {"news", "other"},
        [&](std::string_view channel, std::string_view message) {
            std::lock_guard lock(inbox.mu);
            inbox.messages.push_back(std::string(channel) + ":" + std::string(message));
        },
        [&] { ++inbox.subscribed; });
    ASSERT_TRUE(eventually([&] { return sub.subscribed(); }));
    EXPECT_EQ(inbox.subscribed.load(), 1);
    for (int i = 0; i < 50; ++i) {
        auto n = run(publisher, {"PUBLISH", "news", std::to_string(i)});
        ASSERT_TRUE(n) << n.error().message();
        EXPECT_EQ(n->integer, 1);  // one subscriber received it
    }
    ASSERT_TRUE(run(publisher, {"PUBLISH", "other", "x"}));
    ASSERT_TRUE(run(publisher, {"PUBLISH", "unsubscribed-channel", "y"}));
    ASSERT_TRUE(eventually([&] { return inbox.size() >= 51; }));
    {
        std::lock_guard lock(inbox.mu);
        ASSERT_EQ(inbox.messages.size(), 51u);
        for (int i = 0; i < 50; ++i) {
            EXPECT_EQ(inbox.messages[static_cast<std::size_t>(i)], "news:" + std::to_string(i));
        }
        EXPECT_EQ(inbox.messages[50], "other:x");
    }

    server_.stop();
    ASSERT_TRUE(eventually([&] { return !sub.subscribed(); }));
    server_.start();  // an empty Redis: the subscription must be made again by the subscriber
    ASSERT_TRUE(eventually([&] { return sub.subscribed(); }));
    EXPECT_EQ(inbox.subscribed.load(), 2);  // told, so it can resynchronise
    keel::Result<Reply> n = keel::Error(keel::Errc::internal, "not tried");
    ASSERT_TRUE(eventually([&] {
        n = run(publisher, {"PUBLISH", "news", "after"});
        return n.has_value();
    }));
    EXPECT_EQ(n->integer, 1);
    ASSERT_TRUE(eventually([&] { return inbox.size() == 52; }));
    EXPECT_EQ(sub.stats().messages, 52u);
    EXPECT_EQ(sub.stats().subscribes, 2u);
}

TEST_F(Redis, ASubscriberStartedWhileRedisIsDownSubscribesWhenItComes) {
    server_.stop();
    Inbox inbox;
    keel::LoopThread sub_loop;
    keel::redis::Subscriber sub(sub_loop.loop(), options(), {"c"}, [&](std::string_view, std::string_view m) {
        std::lock_guard lock(inbox.mu);
        inbox.messages.emplace_back(m);
    });
    ASSERT_TRUE(eventually([&] { return sub.stats().failures >= 2; }));  // it tried, and tried again
    EXPECT_FALSE(sub.subscribed());
    server_.start();
    ASSERT_TRUE(eventually([&] { return sub.subscribed(); }));
    keel::redis::Client publisher(options());
    EXPECT_EQ(run(publisher, {"PUBLISH", "c", "hello"})->integer, 1);
    ASSERT_TRUE(eventually([&] { return inbox.size() == 1; }));
}

}  // namespace

namespace {

// Issue 15: a password in redis.url ended up in the host name; every limit failed open.
TEST(RedisUrl, ParsesCredentialsHostPortAndDatabase) {
    auto full = keel::redis::parse_url("redis://app:s%40cret@cache.internal:6380/3");
    ASSERT_TRUE(full) << full.error().message();
    EXPECT_EQ(full->username, "app");
    EXPECT_EQ(full->password, "s@cret");
    EXPECT_EQ(full->host, "cache.internal");
    EXPECT_EQ(full->port, 6380);
    EXPECT_EQ(full->db, 3);
    auto password_only = keel::redis::parse_url("redis://:secret@127.0.0.1:16379");
    ASSERT_TRUE(password_only);
    EXPECT_EQ(password_only->username, "");
    EXPECT_EQ(password_only->password, "secret");
    EXPECT_EQ(password_only->host, "127.0.0.1");
    EXPECT_EQ(password_only->port, 16379);
    auto defaults = keel::redis::parse_url("redis://[::1]");
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->host, "::1");
    EXPECT_EQ(defaults->port, 6379);
    EXPECT_EQ(defaults->db, 0);
}

TEST(RedisUrl, RefusesWhatItCannotHonourWithoutRepeatingThePassword) {
    for (const char* bad : {"rediss://:pw@cache:6379", "http://cache:6379", "redis://pw@cache", "redis://:pw@:6379",
                            "redis://:pw@cache:0", "redis://:pw@cache:http", "redis://:pw@cache/x",
                            "redis://:pw@cache?db=1", "redis://:p%zzw@cache"}) {
        auto r = keel::redis::parse_url(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(std::string(r.error().message()).find("pw"), std::string::npos) << r.error().message();
    }
    EXPECT_NE(std::string(keel::redis::parse_url("rediss://h").error().message()).find("TLS"), std::string::npos);
}

class RedisWithPassword : public ::testing::Test {
  protected:
    keel::test::RedisServer server_{"s3cret-pw"};
    keel::LoopThread loop_;
    keel::Result<Reply> run(keel::redis::Client& redis, std::vector<std::string> args) {
        return loop_.block_on([&] { return redis.command(args); });
    }
};

TEST_F(RedisWithPassword, AuthAndSelectAreSentOnEveryConnection) {
    auto o = keel::redis::parse_url("redis://:s3cret-pw@127.0.0.1:" + std::to_string(server_.port()) + "/2");
    ASSERT_TRUE(o);
    o->reconnect_min = 20ms;
    o->reconnect_max = 100ms;
    keel::redis::Client redis(*o);
    ASSERT_TRUE(run(redis, {"SET", "k", "in db 2"}));
    // The key is in database 2, not 0: SELECT was sent.
    EXPECT_EQ(run(redis, {"GET", "k"})->str, "in db 2");
    auto in_db0 = run(redis, {"EVAL", "redis.call('SELECT', 0) return redis.call('EXISTS', 'k')", "0"});
    ASSERT_TRUE(in_db0);
    EXPECT_EQ(in_db0->integer, 0);
    // Redis restarts: the reconnection authenticates again.
    server_.stop();
    server_.start();
    ASSERT_TRUE(eventually([&] {
        auto r = run(redis, {"SET", "k2", "after restart"});
        return r && !r->is_error();
    })) << "no working connection after Redis came back";
    EXPECT_GE(redis.stats().connects, 2u);
}

TEST_F(RedisWithPassword, AWrongPasswordFailsWithRedisAnswerAndALimiterSaysSo) {
    keel::redis::Client redis({.port = server_.port(), .password = "wrong", .reconnect_min = 20ms});
    std::vector<std::string> reports;
    std::mutex mu;
    keel::redis::RateLimiter limiter(
        redis, {.rate = 10, .burst = 10},
        {.prefix = "t:", .fail_open = true, .on_unavailable = [&](std::string_view reason, bool open) {
             std::lock_guard lock(mu);
             reports.push_back(std::string(reason) + (open ? " (open)" : " (closed)"));
         }});
    for (int i = 0; i < 20; ++i) {
        auto d = loop_.block_on([&] { return limiter.check("someone"); });
        EXPECT_TRUE(d.allowed);  // failing open
    }
    EXPECT_EQ(limiter.unavailable(), 20u);
    std::lock_guard lock(mu);
    ASSERT_EQ(reports.size(), 1u) << "reported once per interval, not per request";
    EXPECT_TRUE(reports[0].find("WRONGPASS") != std::string::npos ||
                reports[0].find("AUTH refused") != std::string::npos || reports[0].find("NOAUTH") != std::string::npos)
        << reports[0];
    EXPECT_NE(reports[0].find("(open)"), std::string::npos);
    auto later = run(redis, {"PING"});
    ASSERT_FALSE(later);
    EXPECT_NE(std::string(later.error().message()).find("AUTH refused"), std::string::npos) << later.error().message();
}

}  // namespace
