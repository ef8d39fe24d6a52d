#include <keel/middleware/basics.hpp>
#include <keel/router/router.hpp>

#include <gtest/gtest.h>

#include "mw_test_util.hpp"

using keel::testing::call;
using keel::testing::TestRequest;

TEST(Heartbeat, AnswersBeforeRouting) {
    keel::router::Router r;
    r.use(keel::mw::heartbeat("/ping"));
    r.get("/x", keel::test::text("x"));
    auto h = r.handler();
    EXPECT_EQ(call(h, TestRequest{"GET", "/ping"}).body, ".");
    EXPECT_EQ(call(h, TestRequest{"HEAD", "/ping"}).status, 200);
    EXPECT_EQ(call(h, TestRequest{"POST", "/ping"}).status, 404);
}

TEST(NoCache, SetsHeadersAndDropsValidators) {
    auto h = keel::mw::no_cache()([](keel::http::Request&) {
        auto r = keel::http::Response::text("x");
        r.header("ETag", "\"abc\"");
        return r;
    });
    auto r = call(h, TestRequest{});
    EXPECT_EQ(r.header("Cache-Control"), "no-cache, no-store, no-transform, must-revalidate, private, max-age=0");
    EXPECT_EQ(r.header("Pragma"), "no-cache");
    EXPECT_FALSE(r.header("ETag"));
}

TEST(SecurityHeaders, DefaultsAndHsts) {
    auto r = call(keel::mw::security_headers()(keel::test::text("x")), TestRequest{});
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
    EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(r.header("Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
    EXPECT_FALSE(r.header("Strict-Transport-Security"));
    keel::mw::SecurityHeadersOptions o;
    o.hsts_max_age = std::chrono::hours(24 * 365);
    auto tls = call(keel::mw::security_headers(o)(keel::test::text("x")), TestRequest{});
    EXPECT_EQ(tls.header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
}

TEST(BodyLimit, PerGroupLimit) {
    keel::router::Router r;
    r.group("/small", [](keel::router::Router& g) {
        g.use(keel::mw::body_limit(4));
        g.post("/x", keel::test::text("ok"));
    });
    r.post("/big", keel::test::text("ok"));
    auto h = r.handler();
    EXPECT_EQ(call(h, TestRequest{"POST", "/small/x"}.with_body("1234")).status, 200);
    auto r413 = call(h, TestRequest{"POST", "/small/x"}.with_body("12345"));
    EXPECT_EQ(r413.status, 413);
    EXPECT_EQ(r413.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(call(h, TestRequest{"POST", "/big"}.with_body("12345")).status, 200);
}

TEST(AllowContentType, RejectsOthersWith415) {
    auto h = keel::mw::allow_content_type({"application/json"})(keel::test::text("ok"));
    EXPECT_EQ(call(h, TestRequest{"POST", "/"}.with_header("Content-Type", "application/json").with_body("{}")).status,
              200);
    EXPECT_EQ(
        call(h, TestRequest{"POST", "/"}.with_header("Content-Type", "Application/JSON; charset=utf-8").with_body("{}"))
            .status,
        200);
    auto bad = call(h, TestRequest{"POST", "/"}.with_header("Content-Type", "text/plain").with_body("{}"));
    EXPECT_EQ(bad.status, 415);
    EXPECT_NE(bad.body.find("application/json"), std::string::npos);
    EXPECT_EQ(call(h, TestRequest{"POST", "/"}.with_body("{}")).status, 415);  // no Content-Type at all
    EXPECT_EQ(call(h, TestRequest{"GET", "/"}).status, 200);                   // no body: nothing to check
}

TEST(StripSlashes, RoutesWithoutTheTrailingSlash) {
    keel::router::Router r;
    r.use(keel::mw::strip_slashes());
    r.get("/users", keel::test::text("users"));
    auto h = r.handler();
    EXPECT_EQ(call(h, TestRequest{"GET", "/users/"}).body, "users");
    EXPECT_EQ(call(h, TestRequest{"GET", "/users//"}).body, "users");
    EXPECT_EQ(call(h, TestRequest{"GET", "/users"}).body, "users");
}

TEST(CleanPath, RedirectsToTheCleanedPath) {
    keel::router::Router r;
    r.use(keel::mw::clean_path());
    r.get("/a/c", keel::test::text("c"));
    auto h = r.handler();
    auto red = call(h, TestRequest{"GET", "//a/./b/../c?x=1"});
    EXPECT_EQ(red.status, 301);
    EXPECT_EQ(red.header("Location"), "/a/c?x=1");
    EXPECT_EQ(call(h, TestRequest{"GET", "/a/b/.."}).header("Location"), "/a/");
    EXPECT_EQ(call(h, TestRequest{"GET", "/../../x"}).header("Location"), "/x");
    EXPECT_EQ(call(h, TestRequest{"GET", "/a/c"}).body, "c");
}
