#include <keel/http/problem.hpp>
#include <keel/middleware/request_id.hpp>

#include <gtest/gtest.h>

#include "mw_test_util.hpp"

using keel::testing::call;
using keel::testing::TestRequest;

namespace {
keel::http::Handler with_id(keel::http::Handler h) {
    return keel::mw::request_id()(std::move(h));
}
}  // namespace

TEST(RequestId, GeneratesAndEchoes) {
    std::string seen;
    auto h = with_id([&](keel::http::Request& req) {
        seen = std::string(keel::mw::request_id_of(req));
        return keel::http::Response::text("x");
    });
    auto a = call(h, TestRequest{});
    auto b = call(h, TestRequest{});
    ASSERT_TRUE(a.header("X-Request-ID"));
    EXPECT_EQ(a.header("X-Request-ID")->size(), 32u);
    EXPECT_EQ(*b.header("X-Request-ID"), seen);
    EXPECT_NE(*a.header("X-Request-ID"), *b.header("X-Request-ID"));
}

TEST(RequestId, KeepsAValidIncomingId) {
    auto h = with_id(keel::test::text("x"));
    auto r = call(h, TestRequest{}.with_header("X-Request-ID", "abc-123_DEF.9:z"));
    EXPECT_EQ(r.header("X-Request-ID"), "abc-123_DEF.9:z");
}

TEST(RequestId, ReplacesAnInvalidIncomingId) {
    auto h = with_id(keel::test::text("x"));
    for (std::string bad :
         {std::string("has space"), std::string(65, 'a'), std::string("<script>"), std::string("a\"b")}) {
        auto r = call(h, TestRequest{}.with_header("X-Request-ID", bad));
        EXPECT_NE(r.header("X-Request-ID"), bad);
        EXPECT_EQ(r.header("X-Request-ID")->size(), 32u);
    }
}

TEST(RequestId, AddedToProblemBodies) {
    auto h = with_id([](keel::http::Request& req) { return keel::http::problem(404, "gone", req.path()); });
    auto r = call(h, TestRequest{"GET", "/p"}.with_header("X-Request-ID", "rid-1"));
    EXPECT_EQ(
        r.body,
        R"({"type":"about:blank","title":"Not Found","status":404,"detail":"gone","instance":"/p","request_id":"rid-1"})");
}
