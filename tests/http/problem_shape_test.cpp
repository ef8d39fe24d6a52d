// Every problem+json body keel produces, from each place that produces one, has the RFC 9457
// shape: "type" (string, URI reference), "title" (string), "status" (number equal to the HTTP
// status), "detail" (string), "instance" (string, when present), plus keel's extensions
// ("request_id" string, "errors" array of {pointer, reason} strings).
#include <keel/http/json.hpp>
#include <keel/json/reader.hpp>
#include <keel/middleware/middleware.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/recorder.hpp>
#include <keel/testing/test_server.hpp>

#include <gtest/gtest.h>

#include <keel/core/sleep.hpp>

#include <map>
#include <set>

using keel::testing::call;
using keel::testing::RawClient;
using keel::testing::TestRequest;
using keel::testing::TestServer;

namespace {

struct Echo {
    std::string name;
};
KEEL_JSON(Echo, name)

// Checks the shape; returns a description of what is wrong, or "" when it conforms.
std::string shape_problems(const std::string& body, int http_status) {
    std::string wrong;
    std::map<std::string, keel::json::Kind> kinds;
    double status = -1;
    auto read = keel::json::read_document(body, [&](keel::json::Reader& root) {
        if (root.kind() != keel::json::Kind::object) {
            wrong += "not an object; ";
            return;
        }
        root.for_each_field([&](std::string_view key, keel::json::Reader& v) {
            kinds[std::string(key)] = v.kind();
            if (key == "status") {
                v.get(status);
            }
            if (key == "errors" && v.kind() == keel::json::Kind::array) {
                v.for_each_element([&](keel::json::Reader& e) {
                    std::map<std::string, keel::json::Kind> ek;
                    e.for_each_field([&](std::string_view k, keel::json::Reader& x) { ek[std::string(k)] = x.kind(); });
                    if (ek.size() != 2 || ek["pointer"] != keel::json::Kind::string ||
                        ek["reason"] != keel::json::Kind::string) {
                        wrong += "bad errors entry; ";
                    }
                });
            }
        });
    });
    if (!read) {
        return "malformed: " + read.error().message;
    }
    for (const char* required : {"type", "title", "detail"}) {
        if (!kinds.count(required) || kinds[required] != keel::json::Kind::string) {
            wrong += std::string(required) + " missing or not a string; ";
        }
    }
    if (kinds["status"] != keel::json::Kind::number || static_cast<int>(status) != http_status) {
        wrong += "status missing or not " + std::to_string(http_status) + "; ";
    }
    for (const char* optional : {"instance", "request_id"}) {
        if (kinds.count(optional) && kinds[optional] != keel::json::Kind::string) {
            wrong += std::string(optional) + " not a string; ";
        }
    }
    if (kinds.count("errors") && kinds["errors"] != keel::json::Kind::array) {
        wrong += "errors not an array; ";
    }
    for (const auto& [k, kind] : kinds) {
        static const std::set<std::string> known = {"type",     "title",      "status", "detail",
                                                    "instance", "request_id", "errors"};
        if (!known.count(k)) {
            wrong += "unexpected member " + k + "; ";
        }
    }
    return wrong;
}

}  // namespace

TEST(ProblemShape, FromRouterMiddlewareAndBinding) {
    keel::router::Router r;
    r.use(keel::mw::recoverer());
    r.use(keel::mw::request_id());
    r.get("/throw", [](keel::http::Request&) -> keel::http::Response { throw std::runtime_error("x"); });
    r.post("/bind", [](keel::http::Request& req) -> keel::http::ProblemOr {
        KEEL_TRY(in, keel::http::bind<Echo>(req));
        return keel::http::Response(in.name.empty() ? 400 : 204);
    });
    r.group("/limited", [](keel::router::Router& g) {
        g.use(keel::mw::body_limit(2));
        g.use(keel::mw::allow_content_type({"application/json"}));
        g.post("/x", [](keel::http::Request&) { return keel::http::Response(204); });
    });
    keel::mw::ThrottleOptions closed;
    closed.limit = 0;
    r.with({keel::mw::throttle(closed)}).get("/busy", [](keel::http::Request&) { return keel::http::Response(204); });
    r.with({keel::mw::timeout(std::chrono::milliseconds(10))})
        .get("/slow", [](keel::http::Request& req) -> keel::Task<keel::http::Response> {
            co_await keel::sleep_for(std::chrono::seconds(5), req.stop_token());
            co_return keel::http::Response(204);
        });
    auto h = r.handler();
    struct Case {
        TestRequest req;
        int status;
    };
    std::vector<Case> cases = {
        {TestRequest{"GET", "/nope"}, 404},
        {TestRequest{"DELETE", "/throw"}, 405},
        {TestRequest{"GET", "/throw"}, 500},
        {TestRequest{"GET", "/a/%zz"}, 400},
        {TestRequest{"POST", "/bind"}.with_header("Content-Type", "text/plain").with_body("x"), 415},
        {TestRequest{"POST", "/bind"}.with_header("Content-Type", "application/json").with_body("{\"name\":1,\"z\":2}"),
         400},
        {TestRequest{"POST", "/bind"}.with_header("Content-Type", "application/json").with_body("{"), 400},
        {TestRequest{"POST", "/limited/x"}.with_header("Content-Type", "application/json").with_body("[1,2]"), 413},
        {TestRequest{"POST", "/limited/x"}.with_header("Content-Type", "text/csv").with_body("1"), 415},
        {TestRequest{"GET", "/busy"}, 503},
        {TestRequest{"GET", "/slow"}, 503},
    };
    for (auto& c : cases) {
        auto res = call(h, c.req);
        EXPECT_EQ(res.status, c.status) << c.req.method << " " << c.req.target;
        EXPECT_EQ(res.header("Content-Type"), "application/problem+json") << c.req.target;
        EXPECT_EQ(shape_problems(res.body, c.status), "") << c.req.target << ": " << res.body;
        EXPECT_NE(res.body.find("\"request_id\":\""), std::string::npos) << c.req.target << ": " << res.body;
        EXPECT_NE(res.body.find("\"instance\":\""), std::string::npos) << c.req.target << ": " << res.body;
    }
}

TEST(ProblemShape, FromTheServerItself) {
    auto o = TestServer::default_options();
    o.limits.max_header_bytes = 1024;
    o.limits.max_uri_bytes = 256;
    o.limits.max_body_bytes = 10;
    o.read_header_timeout = std::chrono::milliseconds(200);
    o.handler_timeout = std::chrono::milliseconds(100);
    TestServer srv(
        [](keel::http::Request& req) -> keel::Task<keel::http::Response> {
            co_await keel::sleep_for(std::chrono::seconds(5), req.stop_token());
            co_return keel::http::Response(204);
        },
        o);
    struct Case {
        std::string bytes;
        int status;
    };
    std::vector<Case> cases = {
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET /" + std::string(300, 'u') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
        {"GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(2000, 'h') + "\r\n\r\n", 431},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n", 413},
        {"GET / HTTP/1.1\r\nHost: t\r\n", 408},
        {"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 503},
        {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
        {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
    };
    for (const auto& c : cases) {
        RawClient client(srv.port());
        auto res = client.exchange(c.bytes);
        ASSERT_TRUE(res) << c.status;
        EXPECT_EQ(res->status, c.status);
        EXPECT_EQ(res->header("Content-Type"), "application/problem+json");
        EXPECT_EQ(shape_problems(res->body, c.status), "") << res->body;
        ASSERT_TRUE(res->header("X-Request-ID"));
        EXPECT_NE(res->body.find("\"request_id\":\"" + *res->header("X-Request-ID") + "\""), std::string::npos)
            << res->body;
    }
}

// A lower layer's keel::Error reaches the client as the problem its code stands for; an
// internal error's message (which may name tables, hosts, files) never does.
TEST(ProblemShape, FromALowerLayersError) {
    struct Case {
        keel::Error error;
        int status;
        std::string detail;  // expected "detail"
        bool retry_after;
    };
    std::vector<Case> cases = {
        {keel::Error::with_detail(keel::Errc::not_found, "no link abc"), 404, "no link abc", false},
        {keel::Error::with_detail(keel::Errc::invalid_argument, "bad cursor"), 400, "bad cursor", false},
        {keel::Error::with_detail(keel::Errc::conflict, "code taken"), 409, "code taken", false},
        {keel::errors::kOverloaded, 503, "", true},
        {keel::errors::kTimeout, 503, "", true},
        {keel::Error(keel::Errc::unavailable, "db down"), 503, "", true},
        {keel::Error::with_detail(keel::Errc::internal, "relation \"secret_table\" does not exist"), 500,
         "internal error", false},
        {keel::Error(keel::Errc::io, "/var/lib/x: EIO"), 500, "internal error", false},
    };
    for (const auto& c : cases) {
        keel::router::Router r;
        r.get("/x", [&](keel::http::Request&) -> keel::http::ProblemOr {
            KEEL_TRY(n, keel::http::or_problem(keel::Result<int>(c.error)));
            return keel::http::Response::text(std::to_string(n));
        });
        auto res = call(r.handler(), TestRequest{"GET", "/x"});
        SCOPED_TRACE(std::string(keel::errc_name(c.error.code())));
        EXPECT_EQ(res.status, c.status);
        EXPECT_EQ(shape_problems(res.body, c.status), "") << res.body;
        if (!c.detail.empty()) {
            EXPECT_NE(res.body.find("\"detail\":\"" + c.detail + "\""), std::string::npos) << res.body;
        }
        EXPECT_EQ(res.body.find("secret_table"), std::string::npos) << res.body;
        EXPECT_EQ(res.body.find("/var/lib"), std::string::npos) << res.body;
        EXPECT_EQ(res.header("Retry-After").has_value(), c.retry_after) << res.body;
    }
    // A success passes through, and Result<void> has its own overload.
    EXPECT_EQ(*keel::http::or_problem(keel::Result<int>(7)), 7);
    EXPECT_TRUE(keel::http::or_problem(keel::Result<void>{}).has_value());
    EXPECT_EQ(keel::http::or_problem(keel::Result<void>(keel::errors::kClosed)).error().status, 500);
}
