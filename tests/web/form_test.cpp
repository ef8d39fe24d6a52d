// Forms and query strings: urlencoded decoding, typed binding to KEEL_JSON structs with
// problem+json errors, and multipart/form-data parsed at every split of its bytes, under limits,
// with large files spilled to temporary files that go away with the form.
#include <keel/testing/recorder.hpp>
#include <keel/web/form.hpp>
#include <keel/web/multipart.hpp>
#include <keel/web/multipart_parser.hpp>

#include "support/read_file.hpp"
#include "support/signup.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>

namespace search {
enum class Order { newest, oldest };
KEEL_JSON_ENUM(Order, newest, oldest)

struct Query {
    std::optional<std::int32_t> limit;
    std::optional<std::string> q;
    std::vector<std::string> tag;
    std::optional<Order> order;
    std::optional<bool> archived;
    std::optional<double> min_score;
};
KEEL_JSON(Query, limit, q, tag, order, archived, min_score)

inline void keel_validate(const Query& in, keel::json::Validator& v) {
    if (in.limit) {
        v.range("/limit", *in.limit, 1, 100);
    }
}
}  // namespace search

namespace {

using keel::testing::TestRequest;
using keel::web::FormFields;
using keel::web::MultipartParser;

keel::http::Handler query_handler() {
    return [](keel::http::Request& req) -> keel::http::ProblemOr {
        KEEL_TRY(q, keel::web::bind_query<search::Query>(req));
        std::string out = "limit=" + (q.limit ? std::to_string(*q.limit) : "-") + " q=" + q.q.value_or("-") + " tags=";
        for (const auto& t : q.tag) {
            out += t + ",";
        }
        out += " order=" + std::string(q.order == search::Order::oldest ? "oldest" : q.order ? "newest" : "-");
        out += " archived=" + std::string(q.archived ? (*q.archived ? "true" : "false") : "-");
        return keel::http::Response::text(out);
    };
}

}  // namespace

TEST(Urlencoded, DecodesNamesValuesPlusAndEmptyPairs) {
    auto fields = keel::web::parse_urlencoded("a=1&&b=x+y%21&flag&c%5B%5D=&=v");
    ASSERT_TRUE(fields);
    ASSERT_EQ(fields->size(), 5u);
    EXPECT_EQ((*fields)[1].name, "b");
    EXPECT_EQ((*fields)[1].value, "x y!");
    EXPECT_EQ((*fields)[2].name, "flag");
    EXPECT_EQ((*fields)[2].value, "");
    EXPECT_EQ((*fields)[3].name, "c[]");
    EXPECT_EQ((*fields)[4].name, "");
    auto bad = keel::web::parse_urlencoded("ok=1&name=%zz");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().pointer, "/name");
    EXPECT_EQ(bad.error().reason, "has a malformed percent-escape");
}

TEST(Urlencoded, StopsOneFieldPastItsLimit) {
    // A 1 MiB body of "a&a&..." is 524,288 fields: a caller with a limit of 1000 must not pay for
    // decoding them all before it can say 413 (issue 25 #4).
    std::string bomb;
    for (int i = 0; i < 512 * 1024; ++i) {
        bomb += "a&";
    }
    auto fields = keel::web::parse_urlencoded(bomb, 1000);
    ASSERT_TRUE(fields);
    EXPECT_EQ(fields->size(), 1001u);
    EXPECT_EQ(keel::web::parse_urlencoded("a=1&b=2", 2)->size(), 2u);
    EXPECT_EQ(keel::web::parse_urlencoded("a=1&&b=2&c", 1)->size(), 2u);  // empty pairs are not fields

    keel::http::Handler form = [](keel::http::Request& req) -> keel::http::ProblemOr {
        KEEL_TRY(f, keel::web::parse_form(req, {.max_fields = 1000}));
        return keel::http::Response::text(std::to_string(f.fields.size()));
    };
    auto r = keel::testing::call(
        form,
        TestRequest{"POST", "/form"}.with_header("Content-Type", "application/x-www-form-urlencoded").with_body(bomb));
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("the form has more than 1000 fields"), std::string::npos) << r.body;
}

TEST(BindQuery, TypedMembersFromTheQueryString) {
    auto r = keel::testing::call(
        query_handler(),
        TestRequest{"GET", "/s?limit=20&q=caf%C3%A9+au+lait&tag=a&tag=b&order=oldest&archived=on&utm_source=x"});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "limit=20 q=café au lait tags=a,b, order=oldest archived=true");
    r = keel::testing::call(query_handler(), TestRequest{"GET", "/s"});
    EXPECT_EQ(r.body, "limit=- q=- tags= order=- archived=-");
}

TEST(BindQuery, EveryBadParameterIsNamedInOne400) {
    auto r = keel::testing::call(
        query_handler(), TestRequest{"GET", "/s?limit=5&limit=7&order=random&archived=maybe&min_score=1e&tag=x"});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(
        r.body,
        R"({"type":"about:blank","title":"Bad Request","status":400,"detail":"the query string failed validation",)"
        R"("instance":"/s","errors":[{"pointer":"/limit","reason":"must appear at most once"},)"
        R"({"pointer":"/order","reason":"must be one of \"newest\", \"oldest\""},)"
        R"({"pointer":"/archived","reason":"must be true or false"},)"
        R"({"pointer":"/min_score","reason":"must be a number"}]})");
    r = keel::testing::call(query_handler(), TestRequest{"GET", "/s?limit=500"});  // the type's own rule
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(R"({"pointer":"/limit","reason":"must be between 1 and 100"})"), std::string::npos) << r.body;
    r = keel::testing::call(query_handler(), TestRequest{"GET", "/s?limit=99999999999"});
    EXPECT_NE(r.body.find("must be an integer between -2147483648 and 2147483647"), std::string::npos) << r.body;
    r = keel::testing::call(query_handler(), TestRequest{"GET", "/s?q=%E"});
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(R"("detail":"the query string is malformed")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"({"pointer":"/q","reason":"has a malformed percent-escape"})"), std::string::npos);
}

TEST(BindForm, UrlencodedBodyWithRequiredFieldsAndUnknownOnesRejected) {
    keel::http::Handler h = [](keel::http::Request& req) -> keel::http::ProblemOr {
        KEEL_TRY(in, keel::web::bind_form<shop::Signup>(req));
        return keel::http::Response::text(in.email + " " + in.handle + " " + std::to_string(in.age));
    };
    auto form = [](std::string body) {
        return TestRequest{"POST", "/signup"}
            .with_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .with_body(std::move(body));
    };
    auto r = keel::testing::call(h, form("email=a%40b.c&handle=abc&age=20"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "a@b.c abc 20");
    r = keel::testing::call(h, form("email=nope&age=x&admin=1&admin=2"));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(
        r.body,
        R"({"type":"about:blank","title":"Bad Request","status":400,"detail":"the form failed validation",)"
        R"("instance":"/signup","errors":[{"pointer":"/handle","reason":"is required"},)"
        R"({"pointer":"/age","reason":"must be an integer between -9223372036854775808 and 9223372036854775807"},)"
        R"({"pointer":"/admin","reason":"is not a known field"},)"
        R"({"pointer":"/email","reason":"must be an email address"}]})");
    r = keel::testing::call(
        h, TestRequest{"POST", "/signup"}.with_header("Content-Type", "application/json").with_body("{}"));
    EXPECT_EQ(r.status, 415);
    std::string many = "email=a%40b.c&handle=abc&age=20";
    for (int i = 0; i < 1000; ++i) {
        many += "&x";
    }
    r = keel::testing::call(h, form(many));
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("the form has more than 1000 fields"), std::string::npos) << r.body;
}

namespace {

const std::string kBoundary = "----keelBoundary7MA4YWxk";

std::string multipart_body() {
    return "preamble to ignore\r\n"
           "--" +
           kBoundary +
           "\r\n"
           "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
           "Hello, form\r\n"
           "--" +
           kBoundary +
           "  \r\n"  // transport padding
           "content-disposition: form-data; name=\"upload\"; filename=\"C:\\\\Users\\\\me\\\\..\\\\notes "
           "\\\"v2\\\".txt\"\r\n"
           "Content-Type: text/plain\r\n\r\n"
           "line one\r\n--not the boundary\r\nline two\r\n"
           "--" +
           kBoundary +
           "\r\n"
           "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
           "\r\n"
           "--" +
           kBoundary +
           "--\r\n"
           "epilogue to ignore";
}

/// Records the parser's events as text.
struct Recorder final : MultipartParser::Sink {
    std::string log;
    keel::Result<void, keel::http::Problem> begin(const MultipartParser::PartHead& h) override {
        log += "[" + h.name + (h.filename ? "|" + *h.filename : "") +
               (h.content_type.empty() ? "" : "|" + h.content_type) + "]";
        return {};
    }
    keel::Result<void, keel::http::Problem> data(std::string_view bytes) override {
        log += bytes;
        return {};
    }
    keel::Result<void, keel::http::Problem> end() override {
        log += "[end]";
        return {};
    }
};

std::string parse_in_pieces(const std::string& body, std::vector<std::size_t> cuts) {
    MultipartParser parser(kBoundary);
    Recorder rec;
    std::size_t from = 0;
    cuts.push_back(body.size());
    for (std::size_t cut : cuts) {
        auto r = parser.feed(std::string_view(body).substr(from, cut - from), rec);
        if (!r) {
            return "error: " + r.error().detail;
        }
        from = cut;
    }
    if (auto r = parser.finish(); !r) {
        return "error: " + r.error().detail;
    }
    return rec.log;
}

}  // namespace

TEST(MultipartParser, SameEventsAtEverySplitOfTheBody) {
    const std::string body = multipart_body();
    const std::string expected =
        "[title]Hello, form[end][upload|C:\\Users\\me\\..\\notes \"v2\".txt|text/plain]"
        "line one\r\n--not the boundary\r\nline two[end][empty][end]";
    EXPECT_EQ(parse_in_pieces(body, {}), expected);
    for (std::size_t a = 0; a <= body.size(); ++a) {
        ASSERT_EQ(parse_in_pieces(body, {a}), expected) << "split at " << a;
    }
    for (std::size_t a = 0; a + 7 <= body.size(); a += 3) {
        ASSERT_EQ(parse_in_pieces(body, {a, a + 1, a + 7}), expected) << "splits at " << a;
    }
}

TEST(MultipartParser, MalformedBodiesAre400s) {
    auto fails = [](std::string body, std::string_view why) {
        std::string got = parse_in_pieces(body, {});
        EXPECT_EQ(got.rfind("error: malformed multipart body: ", 0), 0u) << got;
        EXPECT_NE(got.find(why), std::string::npos) << got;
    };
    std::string b = "--" + kBoundary;
    fails("", "ended before the closing boundary");
    fails(b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", "ended before the closing boundary");
    fails(b + "\r\nContent-Type: text/plain\r\n\r\nx\r\n" + b + "--",
          "needs \"Content-Disposition: form-data; name=...\"");
    fails(b + "\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n" + b + "--", "Content-Disposition");
    fails(b + "\r\nno colon here\r\n\r\nx\r\n" + b + "--", "header line without a name");
    fails(b + "XX\r\n", "followed by something other than CRLF");
    // The close delimiter is the boundary and "--" with nothing between (RFC 2046 §5.1.1).
    fails(b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n" + b + "  --",
          "followed by something other than CRLF");
    fails(b + "\r\nContent-Disposition: form-data; name=\"a\"; x=\"" + std::string(9000, 'a') + "\"\r\n\r\n",
          "headers are longer than 8192 bytes");
    fails(b + "\r\nContent-Disposition: form-data; name=\"a\"; x=\"" + std::string(9000, 'a'), "headers are longer");
}

TEST(MultipartParser, BoundaryComesFromTheContentType) {
    EXPECT_EQ(MultipartParser::boundary_of("multipart/form-data; boundary=abc"), "abc");
    EXPECT_EQ(MultipartParser::boundary_of("Multipart/Form-Data; charset=x; Boundary=\"a b'c\""), "a b'c");
    EXPECT_EQ(MultipartParser::boundary_of("multipart/form-data"), std::nullopt);
    EXPECT_EQ(MultipartParser::boundary_of("multipart/mixed; boundary=abc"), std::nullopt);
    EXPECT_EQ(MultipartParser::boundary_of("multipart/form-data; boundary="), std::nullopt);
    EXPECT_EQ(MultipartParser::boundary_of("multipart/form-data; boundary=" + std::string(71, 'a')), std::nullopt);
    EXPECT_EQ(MultipartParser::boundary_of("multipart/form-data; boundary=\"a\r\nb\""), std::nullopt);
}

TEST(MultipartParser, FilenamesAreReducedToADisplayName) {
    using keel::web::sanitize_filename;
    EXPECT_EQ(sanitize_filename("report.pdf"), "report.pdf");
    EXPECT_EQ(sanitize_filename("../../etc/passwd"), "passwd");
    EXPECT_EQ(sanitize_filename("C:\\Windows\\win.ini"), "win.ini");
    EXPECT_EQ(sanitize_filename(".."), "");
    EXPECT_EQ(sanitize_filename("a/.."), "");
    EXPECT_EQ(sanitize_filename("evil\r\nname\x7f.txt"), "evilname.txt");
    std::string long_utf8;
    for (int i = 0; i < 200; ++i) {
        long_utf8 += "\xc3\xa9";  // é
    }
    std::string cut = sanitize_filename(long_utf8);
    EXPECT_EQ(cut.size(), 254u);  // 127 whole characters, not 255 bytes ending mid-character
}

namespace {

TestRequest multipart_request(std::string body) {
    return TestRequest{"POST", "/form"}
        .with_header("Content-Type", "multipart/form-data; boundary=" + kBoundary)
        .with_body(std::move(body));
}

std::string part(std::string_view name, std::string_view value, std::string_view filename = {}) {
    std::string p = "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + std::string(name) + "\"";
    if (!filename.empty()) {
        p += "; filename=\"" + std::string(filename) + "\"\r\nContent-Type: application/octet-stream";
    }
    return p + "\r\n\r\n" + std::string(value) + "\r\n";
}
const std::string kEnd = "--" + kBoundary + "--\r\n";

}  // namespace

TEST(Form, MultipartFieldsAndFilesSmallInMemoryLargeOnDisk) {
    std::string dir = std::filesystem::temp_directory_path() / ("keel-form-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string big(300 * 1024, 'B');
    big[1000] = '\r';
    std::string spilled_path;
    keel::http::Handler h = [&](keel::http::Request& req) -> keel::http::ProblemOr {
        KEEL_TRY(form, keel::web::parse_form(req, {.temp_dir = dir}));
        const keel::web::FormFile* small = form.file("small");
        const keel::web::FormFile* large = form.file("large");
        EXPECT_TRUE(small && small->in_memory());
        EXPECT_TRUE(large && !large->in_memory());
        if (!small || !large) {
            return keel::http::Response::text("missing", 500);
        }
        spilled_path = large->path();
        EXPECT_EQ(spilled_path.rfind(dir + "/keel-upload-", 0), 0u) << spilled_path;
        EXPECT_EQ(std::filesystem::status(spilled_path).permissions(),
                  std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        EXPECT_EQ(keel::test::read_file(spilled_path), big);
        return keel::http::Response::text(std::string(form.value("title").value_or("?")) + "|" + small->filename + "|" +
                                          std::string(small->data()) + "|" + large->filename + "|" +
                                          std::to_string(large->size));
    };
    auto r = keel::testing::call(h, multipart_request(part("title", "T") + part("small", "tiny", "../a.txt") +
                                                      part("large", big, "big.bin") + kEnd));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "T|a.txt|tiny|big.bin|307200");
    EXPECT_FALSE(spilled_path.empty());
    EXPECT_FALSE(std::filesystem::exists(spilled_path)) << "the temporary file outlived its form";
    EXPECT_TRUE(std::filesystem::is_empty(dir));
    std::filesystem::remove_all(dir);
}

TEST(Form, LimitsAre413sNamingTheField) {
    auto status_and_detail = [](keel::web::FormLimits limits, std::string body) {
        keel::http::Handler h = [limits](keel::http::Request& req) -> keel::http::ProblemOr {
            KEEL_TRY(form, keel::web::parse_form(req, limits));
            return keel::http::Response::text(std::to_string(form.fields.size()));
        };
        auto r = keel::testing::call(h, multipart_request(std::move(body)));
        return std::to_string(r.status) + " " +
               r.body.substr(r.body.find("\"detail\""), r.body.find(",\"instance\"") - r.body.find("\"detail\""));
    };
    EXPECT_EQ(status_and_detail({.max_fields = 2}, part("a", "1") + part("b", "2") + part("c", "3") + kEnd),
              R"(413 "detail":"the form has more than 2 fields")");
    EXPECT_EQ(status_and_detail({.max_field_bytes = 4}, part("name", "12345") + kEnd),
              R"(413 "detail":"field \"name\" is longer than 4 bytes")");
    EXPECT_EQ(status_and_detail({.max_files = 1}, part("f", "1", "a") + part("g", "2", "b") + kEnd),
              R"(413 "detail":"the form has more than 1 files")");
    EXPECT_EQ(status_and_detail({.max_file_bytes = 10}, part("f", std::string(11, 'x'), "a") + kEnd),
              R"(413 "detail":"the file in field \"f\" is larger than 10 bytes")");
    EXPECT_EQ(status_and_detail({}, part("a", "1")),
              R"(400 "detail":"malformed multipart body: the body ended before the closing boundary")");
}

TEST(Form, UrlencodedAndOtherContentTypes) {
    keel::http::Handler h = [](keel::http::Request& req) -> keel::http::ProblemOr {
        KEEL_TRY(form, keel::web::parse_form(req, {.max_fields = 3}));
        return keel::http::Response::text(std::string(form.value("a").value_or("-")) +
                                          std::to_string(form.files.size()));
    };
    auto urlencoded = [](std::string body) {
        return TestRequest{"POST", "/form"}
            .with_header("Content-Type", "application/x-www-form-urlencoded")
            .with_body(std::move(body));
    };
    EXPECT_EQ(keel::testing::call(h, urlencoded("a=x+y&b=2")).body, "x y0");
    EXPECT_EQ(keel::testing::call(h, urlencoded("a=1&a=2&a=3&a=4")).status, 413);
    EXPECT_EQ(keel::testing::call(h, urlencoded("a=%")).status, 400);
    auto r =
        keel::testing::call(h, TestRequest{"POST", "/form"}.with_header("Content-Type", "text/plain").with_body("a=1"));
    EXPECT_EQ(r.status, 415);
    r = keel::testing::call(
        h, TestRequest{"POST", "/form"}.with_header("Content-Type", "multipart/form-data").with_body("x"));
    EXPECT_EQ(r.status, 415);  // multipart without a boundary
}
