#include <keel/core/sleep.hpp>
#include <keel/middleware/recoverer.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/router/router.hpp>

#include <gtest/gtest.h>

#include "mw_test_util.hpp"

using keel::testing::call;
using keel::testing::TestRequest;

TEST(Recoverer, PlainHandlerExceptionBecomes500) {
    std::string reported;
    auto h = keel::mw::recoverer([&](std::string_view what, keel::http::Request&) { reported = what; })(
        [](keel::http::Request&) -> keel::http::Response { throw std::runtime_error("db password is hunter2"); });
    auto r = call(h, TestRequest{"GET", "/boom"});
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(r.body.find("hunter2"), std::string::npos);
    EXPECT_EQ(reported, "db password is hunter2");
}

TEST(Recoverer, CoroutineExceptionBecomes500) {
    std::string reported;
    auto h = keel::mw::recoverer([&](std::string_view what, keel::http::Request&) { reported = what; })(
        [](keel::http::Request&) -> keel::Task<keel::http::Response> {
            co_await keel::sleep_for(std::chrono::milliseconds(1));
            throw std::logic_error("late failure");
        });
    auto r = call(h, TestRequest{});
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(reported, "late failure");
}

TEST(Recoverer, ReportSeesTheRequestIdWhenOutermost) {
    std::string id_in_report;
    keel::router::Router router;
    router.use(keel::mw::recoverer(
        [&](std::string_view, keel::http::Request& req) { id_in_report = std::string(keel::mw::request_id_of(req)); }));
    router.use(keel::mw::request_id());
    router.get("/x", [](keel::http::Request&) -> keel::http::Response { throw std::runtime_error("x"); });
    auto r = call(router.handler(), TestRequest{"GET", "/x"}.with_header("X-Request-ID", "trace-me"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(id_in_report, "trace-me");
}

TEST(Recoverer, PassesNormalResponsesThrough) {
    auto h = keel::mw::recoverer()(keel::test::text("fine"));
    auto r = call(h, TestRequest{});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "fine");
}
