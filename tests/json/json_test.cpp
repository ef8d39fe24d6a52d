#include <keel/json/bind.hpp>
#include <keel/json/describe.hpp>
#include <keel/testing/recorder.hpp>

#include <gtest/gtest.h>

#include <regex>

namespace shop {

enum class Size { small, medium, large };
KEEL_JSON_ENUM(Size, small, medium, large)

struct Dimensions {
    double width = 0;
    double height = 0;
};
KEEL_JSON(Dimensions, width, height)

struct Item {
    std::string name;
    std::int32_t quantity = 0;
    std::uint8_t priority = 0;
    bool gift = false;
    Size size = Size::small;
    std::optional<std::string> note;
    std::vector<std::string> tags;
    std::optional<Dimensions> dimensions;
    std::vector<Dimensions> boxes;
};
KEEL_JSON(Item, name, quantity, priority, gift, size, note, tags, dimensions, boxes)

struct Signup {
    std::string email;
    std::string handle;
    std::int64_t age = 0;
};
KEEL_JSON(Signup, email, handle, age)

void keel_validate(const Signup& s, keel::json::Validator& v) {
    static const std::regex handle_re("[a-z0-9_]{3,16}");
    v.length("/email", s.email, 3, 254);
    v.check(s.email.find('@') != std::string::npos, "/email", "must be an email address");
    v.pattern("/handle", s.handle, handle_re, "3-16 lowercase letters, digits or '_'");
    v.range("/age", s.age, std::int64_t{13}, std::int64_t{150});
}

}  // namespace shop

using keel::json::Errors;

namespace {
template <class T>
Errors parse_errors(std::string_view json, T& out, keel::json::BindOptions o = {}) {
    Errors e;
    keel::json::parse(json, out, e, o);
    return e;
}
std::string errors_text(const Errors& es) {
    std::string s;
    for (const auto& e : es) {
        s += e.pointer + ": " + e.reason + "\n";
    }
    return s;
}
}  // namespace

// ---------------------------------------------------------------------------- writer

TEST(JsonWriter, ObjectsArraysAndCommas) {
    std::string out;
    keel::json::Writer w(out);
    w.begin_object().key("a").value(1).key("b").begin_array().value("x").value(true).null().value(2.5).end_array();
    w.key("c").begin_object().end_object().key("d").begin_array().end_array().end_object();
    EXPECT_EQ(out, R"({"a":1,"b":["x",true,null,2.5],"c":{},"d":[]})");
}

TEST(JsonWriter, Escaping) {
    std::string out;
    keel::json::write_string(out, "q\"b\\n\n\t\x01\x1f ok \xe2\x80\xa8\xe2\x80\xa9 caf\xc3\xa9 bad\xff\xc3");
    EXPECT_EQ(out, R"("q\"b\\n\n\t\u0001\u001f ok \u2028\u2029 café bad\ufffd\ufffd")");
}

TEST(JsonWriter, RejectsOverlongAndSurrogateUtf8) {
    std::string out;
    keel::json::write_string(out, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80");  // overlong '/', surrogate, > U+10FFFF
    EXPECT_EQ(out.find("\xc0"), std::string::npos);
    EXPECT_EQ(out.find("\xed\xa0"), std::string::npos);
    EXPECT_EQ(out.find("\xf4\x90"), std::string::npos);
}

TEST(JsonWriter, NumbersRoundTripAndNonFiniteIsNull) {
    std::string out;
    keel::json::Writer w(out);
    w.begin_array().value(0.1).value(-1e300).value(std::numeric_limits<double>::infinity()).value(INT64_MIN).value(UINT64_MAX);
    w.end_array();
    EXPECT_EQ(out, "[0.1,-1e+300,null,-9223372036854775808,18446744073709551615]");
}

TEST(JsonWriter, DescribedStructsRoundTrip) {
    shop::Item in{"lamp", 3, 9, true, shop::Size::large, std::nullopt, {"a", "b"}, shop::Dimensions{1.5, 2}, {{1, 1}}};
    std::string out;
    keel::json::write(out, in);
    EXPECT_EQ(out,
              R"({"name":"lamp","quantity":3,"priority":9,"gift":true,"size":"large","note":null,"tags":["a","b"],)"
              R"("dimensions":{"width":1.5,"height":2},"boxes":[{"width":1,"height":1}]})");
    shop::Item back;
    EXPECT_TRUE(parse_errors(out, back).empty()) << errors_text(parse_errors(out, back));
    EXPECT_EQ(back.name, "lamp");
    EXPECT_EQ(back.size, shop::Size::large);
    EXPECT_FALSE(back.note);
    ASSERT_TRUE(back.dimensions);
    EXPECT_EQ(back.dimensions->width, 1.5);
    EXPECT_EQ(back.tags, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(back.boxes.size(), 1u);
}

// ---------------------------------------------------------------------------- binding

TEST(JsonBind, EveryErrorIsReportedWithItsPointer) {
    shop::Item item;
    Errors e = parse_errors(
        R"({"quantity":"3","priority":300,"gift":1,"size":"huge","tags":["ok",7],"dimensions":{"width":"w"},)"
        R"("boxes":[{"width":1,"height":2},{"height":"x"}],"colour":"red"})",
        item);
    EXPECT_EQ(errors_text(e),
              "/quantity: must be an integer between -2147483648 and 2147483647\n"
              "/priority: must be an integer between 0 and 255\n"
              "/gift: must be a boolean\n"
              "/size: must be one of \"small\", \"medium\", \"large\"\n"
              "/tags/1: must be a string\n"
              "/dimensions/width: must be a number\n"
              "/dimensions/height: is required\n"
              "/boxes/1/height: must be a number\n"
              "/boxes/1/width: is required\n"
              "/colour: is not a known field\n"
              "/name: is required\n");
}

TEST(JsonBind, UnknownFieldsCanBeIgnored) {
    shop::Dimensions d;
    keel::json::BindOptions o;
    o.reject_unknown_fields = false;
    EXPECT_TRUE(parse_errors(R"({"width":1,"height":2,"depth":{"deep":[1,2,{"x":3}]}})", d, o).empty());
    EXPECT_EQ(d.height, 2);
}

TEST(JsonBind, NullOnlyForOptionals) {
    shop::Item item;
    Errors e = parse_errors(R"({"name":null,"quantity":1,"priority":1,"gift":false,"size":"small","tags":[],"boxes":[],"note":null})", item);
    EXPECT_EQ(errors_text(e), "/name: must be a string\n");
}

TEST(JsonBind, IntegerRangesAndFractions) {
    shop::Signup s;
    EXPECT_EQ(errors_text(parse_errors(R"({"email":"a@b","handle":"abc","age":1.5})", s)),
              "/age: must be an integer between -9223372036854775808 and 9223372036854775807\n");
    EXPECT_EQ(errors_text(parse_errors(R"({"email":"a@b","handle":"abc","age":18446744073709551615})", s)),
              "/age: must be an integer between -9223372036854775808 and 9223372036854775807\n");
    // Beyond 64 bits simdjson refuses the number itself: reported as malformed, with the offset.
    auto huge = parse_errors(R"({"email":"a@b","handle":"abc","age":99999999999999999999})", s);
    ASSERT_EQ(huge.size(), 1u);
    EXPECT_NE(huge[0].reason.find("malformed JSON at byte"), std::string::npos);
}

TEST(JsonBind, PointerTokensAreEscaped) {
    shop::Dimensions d;
    Errors e = parse_errors(R"({"width":1,"height":2,"a/b~c":0})", d);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].pointer, "/a~1b~0c");
}

TEST(JsonBind, MalformedJsonNamesTheByteOffset) {
    shop::Dimensions d;
    for (auto [json, offset] : std::vector<std::pair<std::string, std::string>>{
             {R"({"width":1,,"height":2})", "byte 11"},
             {R"({"width":1} trailing)", "byte 12"},
             {R"({"width":1} 5)", "byte 12"},
             {R"({"width":1,"height":2,"x":tru})", "byte 26"},
             {"", "byte 0"},
             {R"({"width":)", "byte"}}) {
        Errors e = parse_errors(json, d);
        ASSERT_EQ(e.size(), 1u) << json;
        EXPECT_EQ(e[0].pointer, "");
        EXPECT_NE(e[0].reason.find("malformed JSON at " + offset), std::string::npos) << json << " → " << e[0].reason;
    }
}

TEST(JsonBind, RootMustBeAnObject) {
    shop::Dimensions d;
    EXPECT_EQ(errors_text(parse_errors("[1,2]", d)), ": must be an object\n");
}

// ---------------------------------------------------------------------------- validation

TEST(JsonValidate, RulesRunAfterASuccessfulBind) {
    shop::Signup s;
    Errors e = parse_errors(R"({"email":"no-at-sign","handle":"Bad Handle!","age":7})", s);
    EXPECT_EQ(errors_text(e),
              "/email: must be an email address\n"
              "/handle: must be 3-16 lowercase letters, digits or '_'\n"
              "/age: must be between 13 and 150\n");
    EXPECT_TRUE(parse_errors(R"({"email":"a@example.com","handle":"ok_1","age":30})", s).empty());
}

// ---------------------------------------------------------------------------- bind() on requests

namespace {
keel::http::Handler signup_handler() {
    return [](keel::http::Request& req) -> keel::http::Response {
        auto in = keel::json::bind<shop::Signup>(req);
        if (!in) {
            return in.problem();
        }
        std::string out;
        keel::json::write(out, *in);
        return keel::http::Response::json(out, 201);
    };
}

// RFC 9457 shape: type/title/status/detail/instance with the right JSON types; errors as
// objects with string pointer and reason.
void expect_problem_shape(const std::string& body, int status) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(body, m, std::regex(R"(^\{"type":"[^"]+","title":"[^"]+","status":(\d+),"detail":"[^"]*")")))
        << body;
    EXPECT_EQ(m[1], std::to_string(status));
    EXPECT_TRUE(std::regex_search(body, std::regex(R"("errors":\[(\{"pointer":"[^"]*","reason":"[^"]+"\},?)+\]\}$)"))) << body;
}
}  // namespace

TEST(JsonBind, RequestBindingSuccess) {
    auto r = keel::testing::call(signup_handler(), keel::testing::TestRequest{"POST", "/signup"}
                                                       .with_header("Content-Type", "application/json; charset=utf-8")
                                                       .with_body(R"({"email":"a@b.c","handle":"abc","age":20})"));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, R"({"email":"a@b.c","handle":"abc","age":20})");
}

TEST(JsonBind, WrongContentTypeIs415) {
    auto r = keel::testing::call(signup_handler(), keel::testing::TestRequest{"POST", "/signup"}
                                                       .with_header("Content-Type", "text/plain")
                                                       .with_body("{}"));
    EXPECT_EQ(r.status, 415);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    expect_problem_shape(r.body, 415);
}

TEST(JsonBind, InvalidBodyIs400WithEveryField) {
    auto r = keel::testing::call(signup_handler(), keel::testing::TestRequest{"POST", "/signup"}
                                                       .with_header("Content-Type", "application/vnd.api+json")
                                                       .with_body(R"({"email":5,"age":"old"})"));
    EXPECT_EQ(r.status, 400);
    expect_problem_shape(r.body, 400);
    EXPECT_NE(r.body.find(R"({"pointer":"/email","reason":"must be a string"})"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"({"pointer":"/handle","reason":"is required"})"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("instance":"/signup")"), std::string::npos) << r.body;
}

TEST(JsonBind, MalformedBodyIs400NamingTheOffset) {
    auto r = keel::testing::call(signup_handler(), keel::testing::TestRequest{"POST", "/signup"}
                                                       .with_header("Content-Type", "application/json")
                                                       .with_body(R"({"email":)"));
    EXPECT_EQ(r.status, 400);
    expect_problem_shape(r.body, 400);
    EXPECT_NE(r.body.find("malformed JSON at byte"), std::string::npos) << r.body;
}
