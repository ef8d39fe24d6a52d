#include <keel/middleware/access_log.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/router/router.hpp>

#include <gtest/gtest.h>

#include "mw_test_util.hpp"

using keel::testing::call;
using keel::testing::TestRequest;

TEST(AccessLog, RecordsTheRequestAfterRouting) {
    std::vector<std::string> lines;
    keel::router::Router r;
    r.use(keel::mw::request_id());
    r.use(keel::mw::access_log([&](const keel::mw::AccessRecord& rec) {
        lines.push_back(std::string(rec.method) + " " + std::string(rec.route) + " " + std::string(rec.path) + " " +
                        std::to_string(rec.status) + " " + std::to_string(rec.bytes) + " " +
                        std::string(rec.request_id) + " " + std::string(rec.user_agent) + " " +
                        (rec.duration.count() >= 0 ? "ok" : "neg"));
    }));
    r.get("/users/{id}", keel::test::text("hello"));
    call(r.handler(),
         TestRequest{"GET", "/users/7"}.with_header("X-Request-ID", "r1").with_header("User-Agent", "ua/1"));
    call(r.handler(), TestRequest{"GET", "/nope"}.with_header("X-Request-ID", "r2"));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "GET /users/{id} /users/7 200 5 r1 ua/1 ok");
    EXPECT_EQ(lines[1].substr(0, 15), "GET  /nope 404 ");
}

// Issue 16: installed outside request_id, the log line's byte count is what was sent, after
// request_id added its member to a problem body (inside, it logged the size before).
TEST(AccessLog, OutsideRequestIdCountsTheBodyAsSent) {
    std::int64_t logged = -1;
    std::string logged_id;
    keel::router::Router r;
    r.use(keel::mw::access_log([&](const keel::mw::AccessRecord& rec) {
        logged = rec.bytes;
        logged_id = std::string(rec.request_id);
    }));
    r.use(keel::mw::request_id());
    r.get("/gone", [](keel::http::Request& req) { return keel::http::problem(410, "gone for good", req.path()); });
    auto res = call(r.handler(), TestRequest{"GET", "/gone"}.with_header("X-Request-ID", "abc-123"));
    EXPECT_EQ(res.status, 410);
    EXPECT_NE(res.body.find("\"request_id\":\"abc-123\""), std::string::npos) << res.body;
    EXPECT_EQ(logged, static_cast<std::int64_t>(res.body.size()));
    EXPECT_EQ(logged_id, "abc-123");
}
