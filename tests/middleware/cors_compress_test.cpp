#include <keel/middleware/compress.hpp>
#include <keel/middleware/cors.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/test_server.hpp>

#include <gtest/gtest.h>

#include "mw_test_util.hpp"

using keel::test::run;
using keel::testing::call;
using keel::testing::TestRequest;
using keel::testing::TestServer;

namespace {
keel::mw::CorsOptions options() {
    keel::mw::CorsOptions o;
    o.allowed_origins = {"https://app.example.com", "https://*.example.org"};
    o.exposed_headers = {"X-Request-ID"};
    o.allow_credentials = true;
    o.max_age = std::chrono::seconds(300);
    return o;
}
}  // namespace

TEST(Cors, PreflightWithCurl) {
    keel::router::Router r;
    r.use(keel::mw::cors(options()));
    r.put("/links/{id}", keel::test::text("updated"));
    TestServer srv(r.handler());
    std::string out =
        run("curl -s -i -X OPTIONS -H 'Origin: https://app.example.com' "
            "-H 'Access-Control-Request-Method: PUT' -H 'Access-Control-Request-Headers: content-type' " +
            srv.url("/links/1"));
    EXPECT_NE(out.find("HTTP/1.1 204"), std::string::npos) << out;
    EXPECT_NE(out.find("Access-Control-Allow-Origin: https://app.example.com"), std::string::npos) << out;
    EXPECT_NE(out.find("Access-Control-Allow-Methods: GET, HEAD, POST, PUT, PATCH, DELETE"), std::string::npos) << out;
    EXPECT_NE(out.find("Access-Control-Allow-Headers: content-type"), std::string::npos) << out;
    EXPECT_NE(out.find("Access-Control-Allow-Credentials: true"), std::string::npos) << out;
    EXPECT_NE(out.find("Access-Control-Max-Age: 300"), std::string::npos) << out;
    EXPECT_NE(out.find("Vary: Origin"), std::string::npos) << out;
}

TEST(Cors, PreflightFromUnknownOriginGetsNoCorsHeaders) {
    auto h = keel::mw::cors(options())(keel::test::text("x"));
    auto r = call(h, TestRequest{"OPTIONS", "/x"}
                         .with_header("Origin", "https://evil.example.com")
                         .with_header("Access-Control-Request-Method", "PUT"));
    EXPECT_EQ(r.status, 204);
    EXPECT_FALSE(r.header("Access-Control-Allow-Origin"));
}

TEST(Cors, DisallowedRequestHeaderFailsPreflight) {
    auto h = keel::mw::cors(options())(keel::test::text("x"));
    auto r = call(h, TestRequest{"OPTIONS", "/x"}
                         .with_header("Origin", "https://app.example.com")
                         .with_header("Access-Control-Request-Method", "GET")
                         .with_header("Access-Control-Request-Headers", "X-Secret"));
    EXPECT_FALSE(r.header("Access-Control-Allow-Origin"));
}

TEST(Cors, WildcardSubdomainsOneLabelOnly) {
    auto h = keel::mw::cors(options())(keel::test::text("x"));
    EXPECT_EQ(
        call(h, TestRequest{}.with_header("Origin", "https://a.example.org")).header("Access-Control-Allow-Origin"),
        "https://a.example.org");
    EXPECT_FALSE(
        call(h, TestRequest{}.with_header("Origin", "https://a.b.example.org")).header("Access-Control-Allow-Origin"));
    EXPECT_FALSE(
        call(h, TestRequest{}.with_header("Origin", "https://example.org")).header("Access-Control-Allow-Origin"));
    EXPECT_FALSE(
        call(h, TestRequest{}.with_header("Origin", "http://a.example.org")).header("Access-Control-Allow-Origin"));
}

TEST(Cors, SimpleRequestGetsOriginExposeAndVary) {
    auto h = keel::mw::cors(options())(keel::test::text("x"));
    auto r = call(h, TestRequest{}.with_header("Origin", "https://app.example.com"));
    EXPECT_EQ(r.body, "x");
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://app.example.com");
    EXPECT_EQ(r.header("Access-Control-Expose-Headers"), "X-Request-ID");
    EXPECT_EQ(r.header("Vary"), "Origin");
    auto none = call(h, TestRequest{});
    EXPECT_EQ(none.header("Vary"), "Origin");
    EXPECT_FALSE(none.header("Access-Control-Allow-Origin"));
}

TEST(Cors, AnyOriginWithoutCredentialsIsStar) {
    keel::mw::CorsOptions o;
    o.allowed_origins = {"*"};
    auto r = call(keel::mw::cors(o)(keel::test::text("x")), TestRequest{}.with_header("Origin", "https://x.test"));
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
}

namespace {
keel::http::Handler big_json() {
    return [](keel::http::Request&) {
        std::string body = "[";
        for (int i = 0; i < 500; ++i) {
            body += std::string(i ? "," : "") + "{\"id\":" + std::to_string(i) + ",\"name\":\"user number " +
                    std::to_string(i) + "\"}";
        }
        body += "]";
        return keel::http::Response::json(body);
    };
}
}  // namespace

TEST(Compress, CurlDecodesGzipAndBrotli) {
    TestServer srv(keel::mw::compress()(big_json()));
    std::string plain = run("curl -s " + srv.url("/"));
    ASSERT_GT(plain.size(), 10000u);
    EXPECT_EQ(run("curl -s --compressed -H 'Accept-Encoding: gzip' " + srv.url("/")), plain);
    std::string head = run("curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' " + srv.url("/"));
    EXPECT_NE(head.find("Content-Encoding: gzip"), std::string::npos) << head;
    EXPECT_NE(head.find("Vary: Accept-Encoding"), std::string::npos) << head;
    std::string br_head = run("curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip, br' " + srv.url("/"));
    EXPECT_NE(br_head.find("Content-Encoding: br"), std::string::npos) << br_head;
    std::string sizes = run("curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: br' " + srv.url("/"));
    EXPECT_LT(std::stoul(sizes), plain.size() / 4);
    // curl decodes brotli when it was built with it; compare the decoded body when possible.
    std::string features = run("curl -V");
    if (features.find("brotli") != std::string::npos) {
        EXPECT_EQ(run("curl -s --compressed -H 'Accept-Encoding: br' " + srv.url("/")), plain);
    }
}

TEST(Compress, Negotiation) {
    auto h = keel::mw::compress()(big_json());
    auto enc = [&](const char* accept) {
        return call(h, TestRequest{}.with_header("Accept-Encoding", accept))
            .header("Content-Encoding")
            .value_or("identity");
    };
    EXPECT_EQ(enc("gzip"), "gzip");
    EXPECT_EQ(enc("br, gzip"), "br");
    EXPECT_EQ(enc("br;q=0.5, gzip;q=0.9"), "gzip");
    EXPECT_EQ(enc("gzip;q=0, br;q=0"), "identity");
    EXPECT_EQ(enc("*"), "br");
    EXPECT_EQ(enc("identity"), "identity");
    EXPECT_EQ(enc("deflate"), "identity");
}

TEST(Compress, SkipsSmallOrIncompressibleBodies) {
    auto small =
        call(keel::mw::compress()(keel::test::text("tiny")), TestRequest{}.with_header("Accept-Encoding", "gzip"));
    EXPECT_FALSE(small.header("Content-Encoding"));
    EXPECT_EQ(small.header("Vary"), "Accept-Encoding");
    auto png = call(keel::mw::compress()([](keel::http::Request&) {
                        keel::http::Response r(200);
                        r.content_type("image/png");
                        r.body(std::string(5000, 'x'));
                        return r;
                    }),
                    TestRequest{}.with_header("Accept-Encoding", "gzip"));
    EXPECT_FALSE(png.header("Content-Encoding"));
    EXPECT_FALSE(png.header("Vary"));
}
