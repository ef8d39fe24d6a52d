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
                        std::to_string(rec.status) + " " + std::to_string(rec.bytes) + " " + std::string(rec.request_id) +
                        " " + std::string(rec.user_agent) + " " + (rec.duration.count() >= 0 ? "ok" : "neg"));
    }));
    r.get("/users/{id}", keel::test::text("hello"));
    call(r.handler(), TestRequest{"GET", "/users/7"}.with_header("X-Request-ID", "r1").with_header("User-Agent", "ua/1"));
    call(r.handler(), TestRequest{"GET", "/nope"}.with_header("X-Request-ID", "r2"));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "GET /users/{id} /users/7 200 5 r1 ua/1 ok");
    EXPECT_EQ(lines[1].substr(0, 15), "GET  /nope 404 ");
}
