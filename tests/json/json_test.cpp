#include <keel/json/describe.hpp>
#include <keel/json/parse.hpp>

#include "support/signup.hpp"

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

}  // namespace shop

using keel::json::Errors;

namespace {
template <class T>
Errors parse_errors(std::string_view json, T& out, keel::json::ParseOptions o = {}) {
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
    w.begin_array()
        .value(0.1)
        .value(-1e300)
        .value(std::numeric_limits<double>::infinity())
        .value(INT64_MIN)
        .value(UINT64_MAX);
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

// ---------------------------------------------------------------------------- parsing

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
    keel::json::ParseOptions o;
    o.reject_unknown_fields = false;
    EXPECT_TRUE(parse_errors(R"({"width":1,"height":2,"depth":{"deep":[1,2,{"x":3}]}})", d, o).empty());
    EXPECT_EQ(d.height, 2);
}

TEST(JsonBind, NullOnlyForOptionals) {
    shop::Item item;
    Errors e = parse_errors(
        R"({"name":null,"quantity":1,"priority":1,"gift":false,"size":"small","tags":[],"boxes":[],"note":null})",
        item);
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
    for (auto [json, offset] :
         std::vector<std::pair<std::string, std::string>>{{R"({"width":1,,"height":2})", "byte 11"},
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

// Issue 16: type errors and rule errors come in one list, so a client fixes everything at
// once; a field already reported is not reported again by a rule.
TEST(JsonValidate, TypeErrorsAndRuleErrorsAreReportedTogether) {
    shop::Signup s;
    Errors e = parse_errors(R"({"email":"no-at-sign","handle":7,"age":"old"})", s);
    EXPECT_EQ(errors_text(e),
              "/handle: must be a string\n"
              "/age: must be an integer between -9223372036854775808 and 9223372036854775807\n"
              "/email: must be an email address\n");
    Errors missing = parse_errors(R"({"handle":"ok_1","age":30})", s);
    EXPECT_EQ(errors_text(missing), "/email: is required\n");  // not also "must be 3..254 bytes long"
}

TEST(JsonValidate, RulesRunAfterASuccessfulBind) {
    shop::Signup s;
    Errors e = parse_errors(R"({"email":"no-at-sign","handle":"Bad Handle!","age":7})", s);
    EXPECT_EQ(errors_text(e),
              "/email: must be an email address\n"
              "/handle: must be 3-16 lowercase letters, digits or '_'\n"
              "/age: must be between 13 and 150\n");
    EXPECT_TRUE(parse_errors(R"({"email":"a@example.com","handle":"ok_1","age":30})", s).empty());
}

// ---------------------------------------------------------------------------- Nullable

namespace {

struct Patch {
    std::optional<std::string> name;
    keel::json::Nullable<std::string> note;
};
KEEL_JSON(Patch, name, note)

TEST(JsonNullable, TellsAbsentNullAndValueApart) {
    keel::json::Errors errors;
    Patch absent, null, value;
    ASSERT_TRUE(keel::json::parse(R"({"name":"x"})", absent, errors));
    ASSERT_TRUE(keel::json::parse(R"({"note":null})", null, errors));
    ASSERT_TRUE(keel::json::parse(R"({"note":"hi"})", value, errors));
    EXPECT_TRUE(errors.empty());
    EXPECT_TRUE(absent.note.absent());
    EXPECT_TRUE(null.note.is_null());
    ASSERT_TRUE(value.note.has_value());
    EXPECT_EQ(*value.note, "hi");
    Patch wrong;
    EXPECT_TRUE(keel::json::parse(R"({"note":5})", wrong, errors));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].pointer, "/note");
}

}  // namespace
