// keel::http::Response as a handler builds it: headers kept as serialized lines, the
// server-owned ones refused, injection neutralized, bodies short or long.
#include <keel/http/response.hpp>

#include <gtest/gtest.h>

#include <string>

using keel::http::Response;

TEST(Response, HeadersAreKeptAsSerializedLines) {
    Response r(201);
    r.header("Location", "/users/7").header("X-Trace", "abc");
    EXPECT_EQ(r.header_block(), "Location: /users/7\r\nX-Trace: abc\r\n");
    EXPECT_EQ(r.header_value("location"), "/users/7");
    EXPECT_EQ(r.header_value("X-Missing"), std::nullopt);
}

TEST(Response, CrLfAndNulInAValueBecomeSpaces) {
    Response r;
    r.header("X-Evil", std::string("a\r\nSet-Cookie: x=1\0b", 20));
    EXPECT_EQ(r.header_block(), "X-Evil: a  Set-Cookie: x=1 b\r\n");
}

TEST(Response, ANameThatIsNotATokenIsIgnored) {
    Response r;
    r.header("Bad Name", "v").header("", "v").header("X\r\nY", "v").header("Good", "v");
    EXPECT_EQ(r.header_block(), "Good: v\r\n");
}

TEST(Response, FramingAndDateBelongToTheServer) {
    Response r;
    r.header("content-length", "99").header("Transfer-Encoding", "chunked").header("DATE", "yesterday");
    EXPECT_EQ(r.header_block(), "");
    EXPECT_FALSE(r.wants_close());
    r.header("Connection", "keep-alive");
    EXPECT_FALSE(r.wants_close());
    r.header("Connection", "close");
    EXPECT_TRUE(r.wants_close());
    EXPECT_EQ(r.header_block(), "");
}

TEST(Response, SetHeaderReplacesEveryValueOfThatName) {
    Response r;
    r.header("X-A", "1").header("X-B", "2").header("x-a", "3");
    r.set_header("X-A", "4");
    EXPECT_EQ(r.header_block(), "X-B: 2\r\nX-A: 4\r\n");
    r.remove_header("x-b");
    EXPECT_EQ(r.header_block(), "X-A: 4\r\n");
}

TEST(Response, ShortAndLongBodiesAndManyHeadersSurviveMoves) {
    std::string long_body(5000, 'x');
    for (int round = 0; round < 3; ++round) {  // the second and third rounds reuse recycled strings
        Response a = Response::text("Hello, World!");
        Response b = Response::json(long_body, 202);
        for (int i = 0; i < 40; ++i) {
            b.header("X-N" + std::to_string(i), std::string(30, 'v'));
        }
        Response moved_a(std::move(a));
        Response moved_b = std::move(b);
        EXPECT_EQ(moved_a.body_view(), "Hello, World!");
        EXPECT_EQ(moved_a.header_value("Content-Type"), "text/plain; charset=utf-8");
        EXPECT_EQ(moved_b.status(), 202);
        EXPECT_EQ(moved_b.body_view(), long_body);
        EXPECT_EQ(moved_b.header_value("X-N39"), std::string(30, 'v'));
        // "X-N0: " .. "X-N39: ", 30 bytes, CRLF
        EXPECT_EQ(moved_b.header_block().size(),
                  std::string("Content-Type: application/json\r\n").size() + 10 * (4 + 34) + 30 * (5 + 34));
    }
}

TEST(Response, ABodyReplacesAStaticBody) {
    static const char kStatic[] = "static bytes that outlive the response";
    Response r;
    r.static_body(kStatic);
    EXPECT_EQ(r.body_view(), kStatic);
    r.body("short");
    EXPECT_EQ(r.body_view(), "short");
    r.static_body(kStatic);
    r.body(std::string(100, 'y'));
    EXPECT_EQ(r.body_view(), std::string(100, 'y'));
}

TEST(Response, GrowingPastAShortStringKeepsWhatWasThere) {
    Response r;
    r.header("X-A", "1").header("X-B", "2");
    r.remove_header("X-A");  // "X-B: 2\r\n" now fits inside the string itself
    r.header("X-C", "3");
    EXPECT_EQ(r.header_block(), "X-B: 2\r\nX-C: 3\r\n");
    r.body("ab");
    r.body_buffer().append("cd");
    EXPECT_EQ(r.body_view(), "abcd");
}
