#include <keel/observe/log.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <support/eventually.hpp>
#include <thread>
#include <vector>

namespace {

struct Captured {
    std::mutex mu;
    std::vector<std::string> lines;
    keel::log::LoggerOptions options(keel::log::Level level = keel::log::Level::info) {
        keel::log::LoggerOptions o;
        o.level = level;
        o.sink = [this](std::string_view line) {
            std::lock_guard lock(mu);
            lines.emplace_back(line);
        };
        return o;
    }
};

}  // namespace

TEST(Log, JsonLineWithTypedFields) {
    Captured cap;
    keel::log::Logger log(cap.options());
    log.info("listening", {{"addr", "127.0.0.1:8080"}, {"threads", 2}, {"tls", false}, {"ratio", 0.5}});
    log.flush();
    ASSERT_EQ(cap.lines.size(), 1u);
    const std::string& l = cap.lines[0];
    EXPECT_EQ(l.rfind("{\"ts\":\"", 0), 0u) << l;
    EXPECT_NE(l.find("\",\"level\":\"info\",\"msg\":\"listening\",\"addr\":\"127.0.0.1:8080\",\"threads\":2,"
                     "\"tls\":false,\"ratio\":0.5}"),
              std::string::npos)
        << l;
    // RFC 3339 UTC with milliseconds: 2026-11-29T19:30:00.123Z
    std::string ts = l.substr(7, 24);
    EXPECT_EQ(ts.size(), 24u);
    EXPECT_EQ(ts[10], 'T');
    EXPECT_EQ(ts[19], '.');
    EXPECT_EQ(ts[23], 'Z');
}

TEST(Log, EscapesStrings) {
    Captured cap;
    keel::log::Logger log(cap.options());
    log.warn("quote \" and\nnewline", {{"path", "/a\\b\x01"}});
    log.flush();
    ASSERT_EQ(cap.lines.size(), 1u);
    EXPECT_NE(cap.lines[0].find(R"("msg":"quote \" and\nnewline","path":"/a\\b\u0001")"), std::string::npos)
        << cap.lines[0];
}

TEST(Log, LevelFilters) {
    Captured cap;
    keel::log::Logger log(cap.options(keel::log::Level::warn));
    log.debug("no");
    log.info("no");
    log.warn("yes");
    log.error("yes");
    log.flush();
    EXPECT_EQ(cap.lines.size(), 2u);
    EXPECT_FALSE(log.enabled(keel::log::Level::info));
}

TEST(Log, ParseLevel) {
    EXPECT_EQ(keel::log::parse_level("debug").value(), keel::log::Level::debug);
    EXPECT_FALSE(keel::log::parse_level("loud"));
}

TEST(Log, FullQueueDropsInsteadOfBlocking) {
    std::mutex gate;
    gate.lock();  // the writer blocks on the first line, so the queue fills up
    std::atomic<int> written{0};
    keel::log::LoggerOptions o;
    o.queue_size = 16;
    o.sink = [&](std::string_view) {
        std::lock_guard lock(gate);
        written.fetch_add(1);
    };
    keel::log::Logger log(o);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 10000; ++i) {
        log.info("flood", {{"i", i}});
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::seconds(2));  // the caller never waited for the writer
    gate.unlock();
    log.flush();
    EXPECT_GT(log.dropped(), 0u);
    EXPECT_EQ(static_cast<std::uint64_t>(written.load()) + log.dropped(), 10000u);
}

TEST(Log, ManyThreadsLoseNothingWhenQueueIsLargeEnough) {
    Captured cap;
    auto o = cap.options();
    o.queue_size = 100000;
    keel::log::Logger log(o);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 1000; ++i) {
                log.info("m", {{"t", t}, {"i", i}});
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    log.flush();
    EXPECT_EQ(cap.lines.size(), 4000u);
    EXPECT_EQ(log.dropped(), 0u);
}

TEST(Log, InvalidUtf8IsReplacedNotPassedThrough) {
    Captured cap;
    keel::log::Logger log(cap.options());
    log.info("bad \xff byte", {{"v", "\xc3"}});
    log.flush();
    ASSERT_EQ(cap.lines.size(), 1u);
    EXPECT_NE(cap.lines[0].find(R"("msg":"bad \ufffd byte","v":"\ufffd")"), std::string::npos) << cap.lines[0];
}

TEST(Log, BatchedLinesReachTheSinkWithinATickWithoutFlush) {
    std::mutex mu;
    std::vector<std::string> lines;
    keel::log::LoggerOptions o;
    o.sink = [&](std::string_view l) {
        std::lock_guard lock(mu);
        lines.emplace_back(l);
    };
    keel::log::Logger log(o);
    log.info("one");
    log.info("two");
    auto seen = [&] {
        std::lock_guard lock(mu);
        return lines.size();
    };
    ASSERT_TRUE(keel::test::eventually([&] { return seen() >= 2; }));
    ASSERT_EQ(seen(), 2u);  // delivered by the ticker, in order, one line each
    EXPECT_NE(lines[0].find("\"msg\":\"one\""), std::string::npos);
    EXPECT_NE(lines[1].find("\"msg\":\"two\""), std::string::npos);
}
