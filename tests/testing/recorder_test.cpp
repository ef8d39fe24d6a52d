#include <keel/core/offload.hpp>
#include <keel/core/sleep.hpp>
#include <keel/http/problem.hpp>
#include <keel/testing/recorder.hpp>

#include <gtest/gtest.h>

using keel::testing::call;
using keel::testing::TestRequest;

TEST(Recorder, PlainHandler) {
    keel::http::Handler h = [](keel::http::Request& req) {
        auto r =
            keel::http::Response::text(std::string(req.method_name()) + " " + std::string(req.path()) + " " +
                                       std::string(req.query()) + " " + std::string(req.header("X-A").value_or("")));
        r.header("X-Out", "1");
        return r;
    };
    auto res = call(h, TestRequest{"GET", "/p?q=1"}.with_header("X-A", "a"));
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, "GET /p q=1 a");
    EXPECT_EQ(res.header("x-out"), "1");
    EXPECT_EQ(res.header("Content-Type"), "text/plain; charset=utf-8");
}

TEST(Recorder, CoroutineHandlerWithTimerAndOffload) {
    keel::WorkerPool pool({.threads = 1, .queue_capacity = 4});
    keel::http::Handler h = [](keel::http::Request& req) -> keel::Task<keel::http::Response> {
        co_await keel::sleep_for(std::chrono::milliseconds(5));
        auto n = co_await keel::offload([size = req.body().size()] { return size * 2; });
        co_return keel::http::Response::text(std::to_string(*n), 201);
    };
    auto res = call(h, TestRequest{"POST", "/x"}.with_body("abcd"), &pool);
    EXPECT_EQ(res.status, 201);
    EXPECT_EQ(res.body, "8");
}

// Issue 16: a handler that offloads, called without a pool, used to abort the test binary.
TEST(Recorder, OffloadWorksWithoutAPoolGivenToCall) {
    keel::http::Handler h = [](keel::http::Request& req) -> keel::Task<keel::http::Response> {
        auto n = co_await keel::offload([size = req.body().size()] { return size * 3; });
        co_return keel::http::Response::text(n ? std::to_string(*n) : std::string(n.error().message()));
    };
    EXPECT_EQ(call(h, TestRequest{"POST", "/x"}.with_body("ab")).body, "6");
}

// On a loop with no pool at all, offload is an error value (a 503 to answer), not an abort.
TEST(Recorder, OffloadOnALoopWithoutAPoolIsAnError) {
    keel::Loop loop;  // no WorkerPool
    std::string seen;
    loop.post([&] {
        keel::spawn(
            [&]() -> keel::Task<void> {
                auto r = co_await keel::offload([] { return 1; });
                seen = r ? "value" : std::string(r.error().message());
                keel::Loop::current()->stop();
            }(),
            [](std::exception_ptr) {});
    });
    loop.run();
    EXPECT_EQ(seen, "keel::offload: this loop has no worker pool");
}

TEST(Recorder, StreamedBodyIsCollected) {
    keel::http::Handler h = [](keel::http::Request&) {
        return keel::http::Response::stream("text/plain", [](keel::http::BodyWriter& w) -> keel::Task<void> {
            co_await w.write("a");
            co_await w.write("b");
        });
    };
    EXPECT_EQ(call(h, TestRequest{}).body, "ab");
}

TEST(Recorder, ProblemResponses) {
    keel::http::Handler h = [](keel::http::Request& req) { return keel::http::problem(404, "missing", req.path()); };
    auto res = call(h, TestRequest{"GET", "/nope"});
    EXPECT_EQ(res.status, 404);
    EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(res.body,
              R"({"type":"about:blank","title":"Not Found","status":404,"detail":"missing","instance":"/nope"})");
}

TEST(Recorder, InvalidTestRequestIsReported) {
    keel::http::Handler h = [](keel::http::Request&) { return keel::http::Response(); };
    EXPECT_THROW(call(h, TestRequest{"GET", "no-slash"}), std::invalid_argument);
}

TEST(Recorder, HandlersComposeByAwaitingEachOther) {
    keel::http::Handler inner_plain = [](keel::http::Request&) { return keel::http::Response::text("plain"); };
    keel::http::Handler inner_async = [](keel::http::Request&) -> keel::Task<keel::http::Response> {
        co_return keel::http::Response::text("async");
    };
    keel::http::Handler outer = [&](keel::http::Request& req) -> keel::Task<keel::http::Response> {
        auto a = co_await inner_plain(req);
        auto b = co_await inner_async(req);
        co_return keel::http::Response::text(std::string(a.body_view()) + "+" + std::string(b.body_view()));
    };
    EXPECT_EQ(call(outer, TestRequest{}).body, "plain+async");
}
