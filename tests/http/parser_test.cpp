#include <keel/http/chunked.hpp>
#include <keel/http/parser.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using keel::http::BodyKind;
using keel::http::ChunkedDecoder;
using keel::http::Header;
using keel::http::ParseError;
using keel::http::ParserLimits;
using keel::http::ParseStatus;
using keel::http::RequestHead;

namespace {

// Owns the bytes, so the views in `head` stay valid; never moved (returned by guaranteed elision).
struct Parsed {
    Parsed(std::string b, const ParserLimits& limits) : bytes(std::move(b)) {
        head.headers = &headers;
        result = keel::http::parse_request_head(bytes.data(), bytes.size(), head, limits);
    }
    Parsed(const Parsed&) = delete;
    std::string bytes;
    keel::http::ParseResult result;
    RequestHead head;
    std::vector<Header> headers;
};

Parsed parse(std::string bytes, ParserLimits limits = {}) {
    return Parsed(std::move(bytes), limits);
}

std::string header_of(const Parsed& p, std::string_view name) {
    for (const auto& h : p.headers) {
        if (h.name == name) {
            return std::string(h.value);
        }
    }
    return "<none>";
}

}  // namespace

// ---------------------------------------------------------------------------- accepted

TEST(Parser, SimpleGet) {
    std::string r = "GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
    auto p = parse(r);
    ASSERT_EQ(p.result.status, ParseStatus::complete);
    EXPECT_EQ(p.result.consumed, r.size());
    EXPECT_EQ(p.head.method, "GET");
    EXPECT_EQ(p.head.target, "/hello?x=1");
    EXPECT_EQ(p.head.version_minor, 1);
    EXPECT_EQ(p.head.host, "example.com");
    EXPECT_EQ(p.headers.size(), 2u);
    EXPECT_TRUE(p.head.keep_alive);
    EXPECT_EQ(p.head.body_kind, BodyKind::none);
}

TEST(Parser, HeaderValueWhitespaceIsTrimmedAndInnerKept) {
    std::string r = "GET / HTTP/1.1\r\nHost: h\r\nX-A: \t a  b \t\r\nX-Empty:\r\n\r\n";
    auto p = parse(r);
    ASSERT_EQ(p.result.status, ParseStatus::complete);
    EXPECT_EQ(header_of(p, "X-A"), "a  b");
    EXPECT_EQ(header_of(p, "X-Empty"), "");
}

TEST(Parser, ObsTextInValueIsAccepted) {
    std::string r = "GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\r\n\r\n";
    auto p = parse(r);
    ASSERT_EQ(p.result.status, ParseStatus::complete);
    EXPECT_EQ(header_of(p, "X-Name"), "caf\xc3\xa9");
}

// One row per rule of the request line and framing; each names what it expects of the head.
struct AcceptCase {
    const char* name;
    std::string request;
    const char* method = "GET";
    const char* target = "/";
    int version_minor = 1;
    bool keep_alive = true;
    BodyKind body_kind = BodyKind::none;
    std::size_t content_length = 0;
    bool expect_continue = false;
};

void PrintTo(const AcceptCase& c, std::ostream* os) {
    *os << c.name;
}

class ParserAccepts : public ::testing::TestWithParam<AcceptCase> {};

TEST_P(ParserAccepts, WithTheExpectedHead) {
    const AcceptCase& c = GetParam();
    auto p = parse(c.request);
    ASSERT_EQ(p.result.status, ParseStatus::complete) << keel::http::describe(p.result.error);
    EXPECT_EQ(p.head.method, c.method);
    EXPECT_EQ(p.head.target, c.target);
    EXPECT_EQ(p.head.version_minor, c.version_minor);
    EXPECT_EQ(p.head.keep_alive, c.keep_alive);
    EXPECT_EQ(p.head.body_kind, c.body_kind);
    EXPECT_EQ(p.head.content_length, c.content_length);
    EXPECT_EQ(p.head.expect_continue, c.expect_continue);
}

INSTANTIATE_TEST_SUITE_P(
    Heads, ParserAccepts,
    ::testing::Values(
        AcceptCase{.name = "http10_defaults_to_close",
                   .request = "GET / HTTP/1.0\r\n\r\n",
                   .version_minor = 0,
                   .keep_alive = false},
        AcceptCase{.name = "http10_keep_alive_token",
                   .request = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                   .version_minor = 0},
        AcceptCase{.name = "http11_close_in_a_list",
                   .request = "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, close\r\n\r\n",
                   .keep_alive = false},
        AcceptCase{.name = "http1x_minor_above_one_is_http11", .request = "GET / HTTP/1.2\r\nHost: h\r\n\r\n"},
        AcceptCase{.name = "content_length_body",
                   .request = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
                   .method = "POST",
                   .target = "/x",
                   .body_kind = BodyKind::content_length,
                   .content_length = 5},
        AcceptCase{.name = "content_length_zero_means_no_body",
                   .request = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
                   .method = "POST",
                   .target = "/x"},
        // RFC 9110 §8.6: a list of identical values may be treated as one.
        AcceptCase{.name = "identical_duplicate_content_length",
                   .request = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\n",
                   .method = "POST",
                   .target = "/x",
                   .body_kind = BodyKind::content_length,
                   .content_length = 3},
        AcceptCase{.name = "chunked_is_case_insensitive",
                   .request = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD\r\n\r\n",
                   .method = "POST",
                   .target = "/x",
                   .body_kind = BodyKind::chunked},
        AcceptCase{.name = "expect_100_continue",
                   .request = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n",
                   .method = "POST",
                   .target = "/x",
                   .body_kind = BodyKind::content_length,
                   .content_length = 3,
                   .expect_continue = true},
        AcceptCase{.name = "one_leading_empty_line_is_ignored", .request = "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"},
        AcceptCase{.name = "absolute_form_target",
                   .request = "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
                   .target = "http://example.com/a?b"},
        AcceptCase{.name = "asterisk_form_for_options",
                   .request = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
                   .method = "OPTIONS",
                   .target = "*"},
        AcceptCase{.name = "extension_method_is_a_token",
                   .request = "PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n",
                   .method = "PURGE",
                   .target = "/x"},
        AcceptCase{.name = "connect_in_authority_form",
                   .request = "CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n",
                   .method = "CONNECT",
                   .target = "h.example:443"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Parser, ValidHostsAreAccepted) {
    for (const char* host : {"example.com", "example.com:8080", "127.0.0.1:80", "[::1]", "[::1]:8443",
                             "[::ffff:10.0.0.1]", "xn--bcher-kva.example", "a_b-c~d", "h:", "%41b", ""}) {
        auto p = parse(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
        EXPECT_EQ(p.result.status, ParseStatus::complete) << host << ": " << keel::http::describe(p.result.error);
        EXPECT_EQ(p.head.host, host);
    }
}

// RFC 9112 §3.2.2: with an absolute-form target the Host header is ignored; the target's
// authority is the host (a client cannot send one host to the router and another to the app).
TEST(Parser, AbsoluteFormAuthorityWinsOverHost) {
    auto p = parse("GET http://good.example:8080/a?b HTTP/1.1\r\nHost: evil.example\r\n\r\n");
    ASSERT_EQ(p.result.status, ParseStatus::complete);
    EXPECT_EQ(p.head.host, "good.example:8080");
    auto q = parse("GET https://good.example HTTP/1.1\r\nHost: evil.example\r\n\r\n");
    ASSERT_EQ(q.result.status, ParseStatus::complete);
    EXPECT_EQ(q.head.host, "good.example");
}

// ---------------------------------------------------------------------------- rejected
// One row per rule; each is a request-smuggling or ambiguity vector, or a limit.

struct RejectCase {
    const char* name;
    std::string request;
    ParseError error;
};

void PrintTo(const RejectCase& c, std::ostream* os) {
    *os << c.name;
}

class ParserRejects : public ::testing::TestWithParam<RejectCase> {};

TEST_P(ParserRejects, WithPreciseError) {
    const RejectCase& c = GetParam();
    ParserLimits limits;
    limits.max_header_bytes = 1024;
    limits.max_uri_bytes = 256;
    limits.max_headers = 8;
    limits.max_body_bytes = 1000;
    auto p = parse(c.request, limits);
    EXPECT_EQ(p.result.status, ParseStatus::error) << c.name;
    EXPECT_EQ(static_cast<int>(p.result.error), static_cast<int>(c.error))
        << c.name << ": got " << keel::http::describe(p.result.error);
}

const std::string kH = "Host: h\r\n";

INSTANTIATE_TEST_SUITE_P(
    Framing, ParserRejects,
    ::testing::Values(
        RejectCase{"cl_and_te", "POST / HTTP/1.1\r\n" + kH + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                   ParseError::content_length_with_transfer_encoding},
        RejectCase{"te_and_cl", "POST / HTTP/1.1\r\n" + kH + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                   ParseError::content_length_with_transfer_encoding},
        RejectCase{"differing_duplicate_cl",
                   "POST / HTTP/1.1\r\n" + kH + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
                   ParseError::conflicting_content_length},
        RejectCase{"differing_cl_list", "POST / HTTP/1.1\r\n" + kH + "Content-Length: 5, 6\r\n\r\n",
                   ParseError::conflicting_content_length},
        RejectCase{"cl_not_numeric", "POST / HTTP/1.1\r\n" + kH + "Content-Length: abc\r\n\r\n",
                   ParseError::bad_content_length},
        RejectCase{"cl_plus_sign", "POST / HTTP/1.1\r\n" + kH + "Content-Length: +5\r\n\r\n",
                   ParseError::bad_content_length},
        RejectCase{"cl_negative", "POST / HTTP/1.1\r\n" + kH + "Content-Length: -1\r\n\r\n",
                   ParseError::bad_content_length},
        RejectCase{"cl_hex", "POST / HTTP/1.1\r\n" + kH + "Content-Length: 0x10\r\n\r\n",
                   ParseError::bad_content_length},
        RejectCase{"cl_inner_space", "POST / HTTP/1.1\r\n" + kH + "Content-Length: 1 2\r\n\r\n",
                   ParseError::bad_content_length},
        RejectCase{"cl_empty", "POST / HTTP/1.1\r\n" + kH + "Content-Length: \r\n\r\n", ParseError::bad_content_length},
        RejectCase{"cl_overflow", "POST / HTTP/1.1\r\n" + kH + "Content-Length: 99999999999999999999\r\n\r\n",
                   ParseError::bad_content_length},
        RejectCase{"te_not_chunked", "POST / HTTP/1.1\r\n" + kH + "Transfer-Encoding: gzip\r\n\r\n",
                   ParseError::chunked_not_last},
        RejectCase{"te_chunked_then_other", "POST / HTTP/1.1\r\n" + kH + "Transfer-Encoding: chunked, gzip\r\n\r\n",
                   ParseError::chunked_not_last},
        RejectCase{"te_chunked_twice",
                   "POST / HTTP/1.1\r\n" + kH + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                   ParseError::chunked_not_last},
        RejectCase{"te_other_coding_before_chunked",
                   "POST / HTTP/1.1\r\n" + kH + "Transfer-Encoding: gzip, chunked\r\n\r\n",
                   ParseError::unsupported_transfer_coding},
        RejectCase{"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                   ParseError::transfer_encoding_http10},
        RejectCase{"te_with_space_in_name", "POST / HTTP/1.1\r\n" + kH + "Transfer-Encoding : chunked\r\n\r\n",
                   ParseError::whitespace_before_colon},
        RejectCase{"obs_fold", "GET / HTTP/1.1\r\n" + kH + "X-A: a\r\n b\r\n\r\n", ParseError::obs_fold},
        RejectCase{"obs_fold_tab", "GET / HTTP/1.1\r\n" + kH + "X-A: a\r\n\tb\r\n\r\n", ParseError::obs_fold},
        RejectCase{"bare_cr_in_value", "GET / HTTP/1.1\r\n" + kH + "X-A: a\rb\r\n\r\n", ParseError::bare_cr},
        RejectCase{"bare_cr_line_end", "GET / HTTP/1.1\r\n" + kH + "X-A: a\r\r\n\r\n", ParseError::bare_cr},
        RejectCase{"bare_cr_request_line", "GET / HTTP/1.1\rHost: h\r\n\r\n", ParseError::bare_cr},
        RejectCase{"bare_lf_header", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", ParseError::bare_lf},
        RejectCase{"bare_lf_request_line", "GET / HTTP/1.1\nHost: h\r\n\r\n", ParseError::bare_lf},
        RejectCase{"bare_lf_end_of_head", "GET / HTTP/1.1\r\nHost: h\r\n\n", ParseError::bare_lf},
        RejectCase{"space_in_header_name", "GET / HTTP/1.1\r\n" + kH + "X A: b\r\n\r\n",
                   ParseError::whitespace_before_colon},
        RejectCase{"space_before_colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", ParseError::whitespace_before_colon},
        RejectCase{"tab_before_colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", ParseError::whitespace_before_colon},
        RejectCase{"ctl_in_header_name", "GET / HTTP/1.1\r\n" + kH + "X\x01Y: b\r\n\r\n", ParseError::bad_header_name},
        RejectCase{"non_ascii_in_header_name", "GET / HTTP/1.1\r\n" + kH + "X\xc3\xa9: b\r\n\r\n",
                   ParseError::bad_header_name},
        RejectCase{"separator_in_header_name", "GET / HTTP/1.1\r\n" + kH + "X(Y): b\r\n\r\n",
                   ParseError::bad_header_name},
        RejectCase{"empty_header_name", "GET / HTTP/1.1\r\n" + kH + ": b\r\n\r\n", ParseError::bad_header_name},
        RejectCase{"nul_in_value", std::string("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 35),
                   ParseError::bad_header_value},
        RejectCase{"del_in_value", "GET / HTTP/1.1\r\n" + kH + "X: a\x7f\r\n\r\n", ParseError::bad_header_value},
        RejectCase{"missing_host_http11", "GET / HTTP/1.1\r\nX: y\r\n\r\n", ParseError::missing_host},
        RejectCase{"duplicate_host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ParseError::duplicate_host},
        // RFC 9112 §3.2: a Host that is not uri-host [":" port] is answered 400 (hostile test).
        RejectCase{"host_with_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_with_markup", "GET / HTTP/1.1\r\nHost: <script>\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_with_path", "GET / HTTP/1.1\r\nHost: evil.com/phish#\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_with_userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_port_not_digits", "GET / HTTP/1.1\r\nHost: h:8o\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_port_too_big", "GET / HTTP/1.1\r\nHost: h:65536\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_two_ports", "GET / HTTP/1.1\r\nHost: h:1:2\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_bad_pct", "GET / HTTP/1.1\r\nHost: a%2\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_unclosed_ipv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_ipv6_junk", "GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", ParseError::bad_host},
        RejectCase{"host_after_ipv6_junk", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", ParseError::bad_host},
        RejectCase{"absolute_form_bad_port", "GET http://h:x/a HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"bad_method_char", "GE(T / HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_method},
        RejectCase{"empty_method", " / HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_method},
        RejectCase{"double_space_after_method", "GET  / HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_request_line},
        RejectCase{"ctl_in_target", "GET /a\x01 HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"non_ascii_in_target", "GET /caf\xc3\xa9 HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"fragment_in_target", "GET /a#b HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"absolute_form_other_scheme", "GET ftp://h/a HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        // CONNECT takes only authority-form (found by fuzz/http/parser_diff_fuzz: keel took any target)
        RejectCase{"connect_absolute_form", "CONNECT `ttp://h/a HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"connect_origin_form", "CONNECT /a HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"connect_without_port", "CONNECT h.example HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"connect_ipv6_without_port", "CONNECT [::1] HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"absolute_form_userinfo", "GET http://user@h/a HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"absolute_form_empty_authority", "GET http:///a HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"absolute_form_bad_authority_char", "GET http://h^x/a HTTP/1.1\r\n" + kH + "\r\n",
                   ParseError::bad_target},
        RejectCase{"cl_empty_list_element", "POST / HTTP/1.1\r\n" + kH + "Content-Length: ,5\r\n\r\n",
                   ParseError::bad_content_length},
        RejectCase{"relative_target", "GET a/b HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"asterisk_form_only_for_options", "GET * HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_target},
        RejectCase{"missing_version", "GET /\r\n" + kH + "\r\n", ParseError::bad_request_line},
        RejectCase{"lowercase_version", "GET / http/1.1\r\n" + kH + "\r\n", ParseError::bad_version},
        RejectCase{"version_garbage", "GET / HTTP/1.1x\r\n" + kH + "\r\n", ParseError::bad_version},
        RejectCase{"version_two_digits", "GET / HTTP/11.1\r\n" + kH + "\r\n", ParseError::bad_version},
        RejectCase{"http2_version", "GET / HTTP/2.0\r\n" + kH + "\r\n", ParseError::unsupported_version},
        RejectCase{"http09_version", "GET / HTTP/0.9\r\n" + kH + "\r\n", ParseError::unsupported_version},
        RejectCase{"two_leading_empty_lines", "\r\n\r\nGET / HTTP/1.1\r\n" + kH + "\r\n", ParseError::bad_request_line},
        RejectCase{"unknown_expectation", "POST / HTTP/1.1\r\n" + kH + "Content-Length: 1\r\nExpect: 200-ok\r\n\r\n",
                   ParseError::expectation_failed},
        RejectCase{"uri_too_long", "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n" + kH + "\r\n",
                   ParseError::uri_too_long},
        RejectCase{"uri_too_long_incomplete", "GET /" + std::string(400, 'a'), ParseError::uri_too_long},
        RejectCase{"headers_too_large", "GET / HTTP/1.1\r\n" + kH + "X: " + std::string(1100, 'v') + "\r\n\r\n",
                   ParseError::headers_too_large},
        RejectCase{"headers_too_large_incomplete", "GET / HTTP/1.1\r\n" + kH + "X: " + std::string(1100, 'v'),
                   ParseError::headers_too_large},
        RejectCase{"too_many_headers",
                   "GET / HTTP/1.1\r\n" + kH + "A: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nI: 1\r\n\r\n",
                   ParseError::too_many_headers},
        RejectCase{"content_length_over_limit", "POST / HTTP/1.1\r\n" + kH + "Content-Length: 1001\r\n\r\n",
                   ParseError::body_too_large}),
    [](const ::testing::TestParamInfo<RejectCase>& info) { return std::string(info.param.name); });

TEST(Parser, EveryErrorMapsToAStatus) {
    EXPECT_EQ(keel::http::status_for(ParseError::uri_too_long), 414);
    EXPECT_EQ(keel::http::status_for(ParseError::headers_too_large), 431);
    EXPECT_EQ(keel::http::status_for(ParseError::too_many_headers), 431);
    EXPECT_EQ(keel::http::status_for(ParseError::body_too_large), 413);
    EXPECT_EQ(keel::http::status_for(ParseError::expectation_failed), 417);
    EXPECT_EQ(keel::http::status_for(ParseError::unsupported_transfer_coding), 501);
    EXPECT_EQ(keel::http::status_for(ParseError::unsupported_version), 505);
    EXPECT_EQ(keel::http::status_for(ParseError::obs_fold), 400);
    EXPECT_EQ(keel::http::status_for(ParseError::content_length_with_transfer_encoding), 400);
}

// ---------------------------------------------------------------------------- incremental

TEST(Parser, SplitAtEveryByteIsIncompleteThenComplete) {
    const std::vector<std::string> requests = {
        "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Long: " + std::string(200, 'z') + "\r\n\r\n",
        "\r\nPOST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
    };
    for (const std::string& full : requests) {
        for (std::size_t cut = 0; cut < full.size(); ++cut) {
            std::string prefix = full.substr(0, cut);
            auto p = parse(prefix);
            ASSERT_EQ(p.result.status, ParseStatus::incomplete) << "cut at " << cut << " of " << full;
        }
        auto p = parse(full);
        ASSERT_EQ(p.result.status, ParseStatus::complete);
        EXPECT_EQ(p.result.consumed, full.size());
    }
}

TEST(Parser, ErrorsAreDetectedBeforeTheHeadIsComplete) {
    // A bad byte in a complete line fails at once, without waiting for the blank line.
    auto p = parse("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n");
    EXPECT_EQ(p.result.status, ParseStatus::error);
    EXPECT_EQ(p.result.error, ParseError::whitespace_before_colon);
}

TEST(Parser, HundredPipelinedRequestsInOneBuffer) {
    std::string buf;
    for (int i = 0; i < 100; ++i) {
        if (i % 3 == 1) {
            buf += "POST /r/" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody";
        } else {
            buf += "GET /r/" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
        }
    }
    std::size_t offset = 0;
    std::vector<Header> headers;
    for (int i = 0; i < 100; ++i) {
        RequestHead head;
        head.headers = &headers;
        auto r = keel::http::parse_request_head(buf.data() + offset, buf.size() - offset, head, {});
        ASSERT_EQ(r.status, ParseStatus::complete) << i;
        EXPECT_EQ(head.target, "/r/" + std::to_string(i));
        offset += r.consumed + (head.body_kind == BodyKind::content_length ? head.content_length : 0);
    }
    EXPECT_EQ(offset, buf.size());
}

TEST(Parser, FindLfStartsWhereAsked) {
    std::string s = "ab\ncd\n";
    EXPECT_EQ(keel::http::find_lf(s.data(), s.size(), 0), 2u);
    EXPECT_EQ(keel::http::find_lf(s.data(), s.size(), 3), 5u);
    EXPECT_EQ(keel::http::find_lf(s.data(), 5, 3), 5u);  // not found → len
}

// ---------------------------------------------------------------------------- chunked

namespace {
struct Decoded {
    keel::http::ParseResult result;
    std::string body;
    std::vector<std::pair<std::string, std::string>> trailers;
    std::size_t consumed = 0;
};

// Feeds `encoded` in pieces of `step` bytes, appending like a socket would.
Decoded decode(const std::string& encoded, std::size_t step = 0, std::uint64_t max_body = 1 << 20) {
    ChunkedDecoder d(max_body);
    std::string buf;
    std::vector<Header> trailers;
    Decoded out;
    std::size_t fed = 0;
    if (step == 0) {
        step = encoded.size();
    }
    while (fed < encoded.size()) {
        std::size_t n = std::min(step, encoded.size() - fed);
        buf.append(encoded, fed, n);
        fed += n;
        out.result = d.decode(buf.data(), buf.size(), &trailers);
        if (out.result.status != ParseStatus::incomplete) {
            break;
        }
    }
    if (out.result.status == ParseStatus::complete) {
        out.body = buf.substr(0, d.decoded());
        out.consumed = d.consumed();
        for (const auto& t : trailers) {
            out.trailers.emplace_back(std::string(t.name), std::string(t.value));
        }
    }
    return out;
}
}  // namespace

TEST(Chunked, DecodesInPlace) {
    auto d = decode("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    ASSERT_EQ(d.result.status, ParseStatus::complete);
    EXPECT_EQ(d.body, "hello world");
}

TEST(Chunked, StopsAtTheEndOfTheBody) {
    std::string enc = "3\r\nabc\r\n0\r\n\r\n";
    auto d = decode(enc + "GET / HTTP/1.1\r\n");
    ASSERT_EQ(d.result.status, ParseStatus::complete);
    EXPECT_EQ(d.consumed, enc.size());
}

TEST(Chunked, ExtensionsAndTrailers) {
    auto d = decode("A;name=value;q=\"x y\"\r\n0123456789\r\n0;last\r\nX-Checksum: abc\r\nX-Other:  v \r\n\r\n");
    ASSERT_EQ(d.result.status, ParseStatus::complete);
    EXPECT_EQ(d.body, "0123456789");
    ASSERT_EQ(d.trailers.size(), 2u);
    EXPECT_EQ(d.trailers[0], (std::pair<std::string, std::string>{"X-Checksum", "abc"}));
    EXPECT_EQ(d.trailers[1].second, "v");
}

TEST(Chunked, UpperAndLowerHex) {
    auto d = decode("a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n");
    ASSERT_EQ(d.result.status, ParseStatus::complete);
    EXPECT_EQ(d.body.size(), 20u);
}

TEST(Chunked, SplitAtEveryByteGivesTheSameBody) {
    std::string enc = "4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n";
    auto whole = decode(enc);
    ASSERT_EQ(whole.result.status, ParseStatus::complete);
    for (std::size_t step = 1; step < enc.size(); ++step) {
        auto d = decode(enc, step);
        ASSERT_EQ(d.result.status, ParseStatus::complete) << "step " << step;
        EXPECT_EQ(d.body, whole.body) << "step " << step;
        EXPECT_EQ(d.trailers, whole.trailers) << "step " << step;
    }
    EXPECT_EQ(whole.body, "Wikipedia in\r\n\r\nchunks.");
}

TEST(Chunked, CompactRemovesDecodedFraming) {
    ChunkedDecoder d;
    std::string buf = "3\r\nabc\r\n3\r\ndef\r\n";
    auto r = d.decode(buf.data(), buf.size(), nullptr);
    ASSERT_EQ(r.status, ParseStatus::incomplete);
    std::size_t removed = d.compact(buf.data(), buf.size());
    buf.resize(buf.size() - removed);
    EXPECT_EQ(buf, "abcdef");
    buf += "0\r\n\r\n";
    r = d.decode(buf.data(), buf.size(), nullptr);
    ASSERT_EQ(r.status, ParseStatus::complete);
    EXPECT_EQ(buf.substr(0, d.decoded()), "abcdef");
}

// Streaming: the consumer takes what is decoded after every arrival and the decoder forgets
// it; at any split the pieces add up to the body, the buffer holds only undecoded framing, and
// the body limit counts every byte ever decoded.
TEST(Chunked, DiscardDecodedStreamsAtEverySplit) {
    std::string enc = "4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n";
    for (std::size_t step = 1; step < enc.size(); ++step) {
        ChunkedDecoder d;
        std::vector<Header> trailers;
        std::string buf, body;
        std::size_t taken = 0;
        keel::http::ParseResult r{ParseStatus::incomplete, 0, ParseError::none};
        for (std::size_t at = 0; at < enc.size() && r.status != ParseStatus::complete; at += step) {
            buf += enc.substr(at, step);
            r = d.decode(buf.data(), buf.size(), &trailers);
            ASSERT_NE(r.status, ParseStatus::error) << "step " << step;
            body += buf.substr(taken, d.decoded() - taken);
            taken = d.decoded();
            std::size_t shrunk = d.discard_decoded(buf.data(), buf.size());
            if (shrunk > 0) {
                buf.resize(buf.size() - shrunk);
                taken = 0;
            }
            // never more than this arrival, a framing line and the trailer section: nothing piles up
            ASSERT_LE(buf.size(), step + 24) << "step " << step;
        }
        ASSERT_EQ(r.status, ParseStatus::complete) << "step " << step;
        EXPECT_EQ(body, "Wikipedia in\r\n\r\nchunks.") << "step " << step;
        ASSERT_EQ(trailers.size(), 1u) << "step " << step;
    }
    // The limit is on the whole body, not on what is in the buffer.
    ChunkedDecoder limited(6);
    std::string first = "3\r\nabc\r\n";
    ASSERT_EQ(limited.decode(first.data(), first.size(), nullptr).status, ParseStatus::incomplete);
    first.resize(first.size() - limited.discard_decoded(first.data(), first.size()));
    std::string more = first + "4\r\ndefg\r\n";
    EXPECT_EQ(limited.decode(more.data(), more.size(), nullptr).error, ParseError::body_too_large);
}

struct ChunkReject {
    const char* name;
    std::string encoded;
    ParseError error;
};

void PrintTo(const ChunkReject& c, std::ostream* os) {
    *os << c.name;
}

class ChunkedRejects : public ::testing::TestWithParam<ChunkReject> {};

TEST_P(ChunkedRejects, WithPreciseError) {
    auto d = decode(GetParam().encoded, 0, 100);
    EXPECT_EQ(d.result.status, ParseStatus::error) << GetParam().name;
    EXPECT_EQ(static_cast<int>(d.result.error), static_cast<int>(GetParam().error)) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Framing, ChunkedRejects,
    ::testing::Values(
        ChunkReject{"non_hex_size", "zz\r\nabc\r\n0\r\n\r\n", ParseError::bad_chunk_size},
        ChunkReject{"empty_size", "\r\nabc\r\n0\r\n\r\n", ParseError::bad_chunk_size},
        ChunkReject{"size_overflow", "fffffffffffffffff\r\n", ParseError::bad_chunk_size},
        ChunkReject{"size_sign", "+5\r\nhello\r\n0\r\n\r\n", ParseError::bad_chunk_size},
        ChunkReject{"size_0x_prefix", "0x5\r\nhello\r\n0\r\n\r\n", ParseError::bad_chunk_size},
        ChunkReject{"bare_lf_after_size", "5\nhello\r\n0\r\n\r\n", ParseError::bad_chunk_size},
        ChunkReject{"bare_cr_after_size", "5\rhello\r\n0\r\n\r\n", ParseError::bare_cr},
        ChunkReject{"data_longer_than_size", "3\r\nhello\r\n0\r\n\r\n", ParseError::bad_chunk},
        ChunkReject{"missing_crlf_after_data", "3\r\nabc0\r\n\r\n", ParseError::bad_chunk},
        ChunkReject{"ctl_in_extension", "3;a\x01\r\nabc\r\n0\r\n\r\n", ParseError::bad_chunk},
        ChunkReject{"obs_fold_in_trailer", "0\r\nA: b\r\n c\r\n\r\n", ParseError::obs_fold},
        ChunkReject{"space_before_colon_in_trailer", "0\r\nA : b\r\n\r\n", ParseError::whitespace_before_colon},
        ChunkReject{"bare_lf_in_trailer", "0\r\nA: b\n\r\n", ParseError::bare_lf},
        ChunkReject{"content_length_in_trailer", "0\r\nContent-Length: 5\r\n\r\n", ParseError::bad_chunk},
        ChunkReject{"transfer_encoding_in_trailer", "0\r\nTransfer-Encoding: chunked\r\n\r\n", ParseError::bad_chunk},
        ChunkReject{"bare_cr_in_unfinished_trailer", "0\r\nT: \r\x1a", ParseError::bare_cr},
        ChunkReject{"ctl_in_unfinished_trailer", "0\r\nT: a\x01", ParseError::bad_header_value},
        ChunkReject{"over_body_limit", "65\r\n" + std::string(101, 'x') + "\r\n0\r\n\r\n", ParseError::body_too_large},
        ChunkReject{"sum_over_body_limit", "32\r\n" + std::string(50, 'x') + "\r\n33\r\n", ParseError::body_too_large}),
    [](const ::testing::TestParamInfo<ChunkReject>& info) { return std::string(info.param.name); });

// The SIMD scan works 16 bytes at a time: a forbidden byte must be caught at every position of
// a long value or target, including chunk boundaries and the scalar tail.
TEST(Parser, ForbiddenByteAtEveryPositionOfLongValuesAndTargets) {
    for (std::size_t pos = 0; pos < 50; ++pos) {
        for (char bad : {'\x01', '\x7f', '\x00', '\x1f'}) {
            std::string value(50, 'v');
            value[pos] = bad;
            auto p = parse("GET / HTTP/1.1\r\nHost: h\r\nX-V: " + value + "\r\n\r\n");
            EXPECT_EQ(p.result.error, ParseError::bad_header_value) << "value pos " << pos << " byte " << int(bad);
        }
        for (char bad : {' ', '#', '\x7f', '\x80', '\xff', '\x01'}) {
            std::string target = "/" + std::string(50, 't');
            target[pos + 1] = bad;
            auto p = parse("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n");
            EXPECT_EQ(p.result.status, ParseStatus::error) << "target pos " << pos << " byte " << int(bad);
        }
        std::string ok_value(50, 'v');
        ok_value[pos] = '\t';  // HTAB and obs-text are allowed inside a value
        ok_value[(pos + 7) % 50] = '\xe9';
        EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nX-V: " + ok_value + "\r\n\r\n").result.status,
                  ParseStatus::complete);
    }
}

TEST(Chunked, BareCrInTrailerIsCaughtWhenSplitAfterTheCr) {
    // Fed one byte at a time, the CR ends a read and is judged when 'X' arrives.
    auto d = decode("0\r\nT:\rX: y\r\n\r\n", 1);
    EXPECT_EQ(d.result.status, ParseStatus::error);
    EXPECT_EQ(d.result.error, ParseError::bare_cr);
}
