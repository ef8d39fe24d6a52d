// keel::http::bind / json_response: request bodies bound to KEEL_JSON structs, every failure
// answered as problem+json (415, 400 naming each field or the malformed byte).
#include <keel/http/json.hpp>
#include <keel/testing/recorder.hpp>

#include "support/signup.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace {
keel::http::Handler signup_handler() {
    return [](keel::http::Request& req) -> keel::http::ProblemOr {
        KEEL_TRY(in, keel::http::bind<shop::Signup>(req));
        return keel::http::json_response(in, 201);
    };
}

// RFC 9457 shape: type/title/status/detail/instance with the right JSON types; errors as
// objects with string pointer and reason.
void expect_problem_shape(const std::string& body, int status) {
    std::smatch m;
    EXPECT_TRUE(
        std::regex_search(body, m, std::regex(R"(^\{"type":"[^"]+","title":"[^"]+","status":(\d+),"detail":"[^"]*")")))
        << body;
    EXPECT_EQ(m[1], std::to_string(status));
    EXPECT_TRUE(std::regex_search(body, std::regex(R"("errors":\[(\{"pointer":"[^"]*","reason":"[^"]+"\},?)+\]\}$)")))
        << body;
}
}  // namespace

TEST(HttpJson, RequestBindingSuccess) {
    auto r = keel::testing::call(signup_handler(), keel::testing::TestRequest{"POST", "/signup"}
                                                       .with_header("Content-Type", "application/json; charset=utf-8")
                                                       .with_body(R"({"email":"a@b.c","handle":"abc","age":20})"));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, R"({"email":"a@b.c","handle":"abc","age":20})");
}

TEST(HttpJson, WrongContentTypeIs415) {
    auto r = keel::testing::call(
        signup_handler(),
        keel::testing::TestRequest{"POST", "/signup"}.with_header("Content-Type", "text/plain").with_body("{}"));
    EXPECT_EQ(r.status, 415);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    expect_problem_shape(r.body, 415);
}

TEST(HttpJson, InvalidBodyIs400WithEveryField) {
    auto r = keel::testing::call(signup_handler(), keel::testing::TestRequest{"POST", "/signup"}
                                                       .with_header("Content-Type", "application/vnd.api+json")
                                                       .with_body(R"({"email":5,"age":"old"})"));
    EXPECT_EQ(r.status, 400);
    expect_problem_shape(r.body, 400);
    EXPECT_NE(r.body.find(R"({"pointer":"/email","reason":"must be a string"})"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"({"pointer":"/handle","reason":"is required"})"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("instance":"/signup")"), std::string::npos) << r.body;
}

TEST(HttpJson, MalformedBodyIs400NamingTheOffset) {
    auto r = keel::testing::call(signup_handler(), keel::testing::TestRequest{"POST", "/signup"}
                                                       .with_header("Content-Type", "application/json")
                                                       .with_body(R"({"email":)"));
    EXPECT_EQ(r.status, 400);
    expect_problem_shape(r.body, 400);
    EXPECT_NE(r.body.find("malformed JSON at byte"), std::string::npos) << r.body;
}
