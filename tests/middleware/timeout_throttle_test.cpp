#include <keel/core/sleep.hpp>
#include <keel/middleware/throttle.hpp>
#include <keel/middleware/timeout.hpp>
#include <keel/testing/test_server.hpp>

#include <gtest/gtest.h>

#include "mw_test_util.hpp"

#include <future>
#include <vector>

using namespace std::chrono_literals;
using keel::testing::call;
using keel::testing::RawClient;
using keel::testing::TestRequest;
using keel::testing::TestServer;

namespace {
keel::http::Handler sleeper(std::atomic<int>& cancelled, keel::Duration d) {
    return [&cancelled, d](keel::http::Request& req) -> keel::Task<keel::http::Response> {
        bool full = co_await keel::sleep_for(d, req.stop_token());
        if (!full) {
            cancelled.fetch_add(1);
        }
        co_return keel::http::Response::text(full ? "done" : "cut short");
    };
}
std::string get(const char* path) {
    return std::string("GET ") + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}
}  // namespace

TEST(Timeout, DeadlineGives503AndCancelsTheHandler) {
    std::atomic<int> cancelled{0};
    auto h = keel::mw::timeout(50ms)(sleeper(cancelled, 10s));
    auto start = std::chrono::steady_clock::now();
    auto r = call(h, TestRequest{});
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(cancelled.load(), 1);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(Timeout, FastHandlerIsUntouched) {
    std::atomic<int> cancelled{0};
    auto r = call(keel::mw::timeout(1s)(sleeper(cancelled, 5ms)), TestRequest{});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "done");
    EXPECT_EQ(cancelled.load(), 0);
}

TEST(Timeout, OverRealSocketsTheConnectionStaysUsable) {
    std::atomic<int> cancelled{0};
    TestServer srv(keel::mw::timeout(50ms)(sleeper(cancelled, 10s)));
    RawClient c(srv.port());
    EXPECT_EQ(c.exchange(get("/"))->status, 503);
    EXPECT_EQ(c.exchange(get("/"))->status, 503);  // same keep-alive connection
    EXPECT_EQ(cancelled.load(), 2);
}

TEST(Throttle, LimitsInFlightAndRejectsWithRetryAfter) {
    std::atomic<int> cancelled{0};
    keel::mw::ThrottleOptions o;
    o.limit = 2;
    o.backlog = 1;
    o.backlog_timeout = 50ms;
    auto opts = TestServer::default_options();
    opts.threads = 2;
    TestServer srv(keel::mw::throttle(o)(sleeper(cancelled, 2s)),
                   opts);  // long enough to stay busy on a loaded machine
    std::vector<std::future<int>> clients;
    std::vector<std::future<std::string>> retry;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(std::async(std::launch::async, [&srv] {
            RawClient c(srv.port());
            auto r = c.exchange(get("/"));
            return r ? r->status : -1;
        }));
    }
    int ok = 0, busy = 0;
    for (auto& f : clients) {
        int s = f.get();
        ok += s == 200;
        busy += s == 503;
    }
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(busy, 4);
    RawClient c(srv.port());
    auto after = c.exchange(get("/"));  // slots are released afterwards
    EXPECT_EQ(after->status, 200);
}

TEST(Throttle, BacklogWaitsForASlot) {
    std::atomic<int> cancelled{0};
    keel::mw::ThrottleOptions o;
    o.limit = 1;
    o.backlog = 4;
    o.backlog_timeout = 2s;
    TestServer srv(keel::mw::throttle(o)(sleeper(cancelled, 50ms)));
    std::vector<std::future<int>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::async(std::launch::async, [&srv] {
            RawClient c(srv.port());
            auto r = c.exchange(get("/"));
            return r ? r->status : -1;
        }));
    }
    for (auto& f : clients) {
        EXPECT_EQ(f.get(), 200);  // all three served, one at a time
    }
}

TEST(Throttle, RetryAfterHeader) {
    keel::mw::ThrottleOptions o;
    o.limit = 0;
    o.retry_after = std::chrono::seconds(7);
    auto r = call(keel::mw::throttle(o)(keel::test::text("x")), TestRequest{});
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("Retry-After"), "7");
}
