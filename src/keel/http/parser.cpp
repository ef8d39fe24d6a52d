#include <keel/http/parser.hpp>

#include <keel/core/detail/simd_scan.hpp>
#include <keel/http/detail/byte_classes.hpp>

#include <array>
#include <cstring>

namespace keel::http {
namespace {

using detail::iequals;
using detail::is;
using detail::kHex;
using detail::kHost;
using detail::kTarget;
using detail::kToken;
using detail::kValue;
using detail::trim_ows;

// Runs of value / target bytes are scanned 16 at a time where the CPU allows (simd_scan.hpp);
// the ranges list the bytes that end a run.
// Ranges are padded to 16 bytes: PCMPESTRI loads all 16 but uses only ranges_len.
alignas(16) constexpr char kValueStops[16] = {'\x00', '\x08', '\x0a', '\x1f', '\x7f', '\x7f'};
alignas(16) constexpr char kTargetStops[16] = {'\x00', '\x20', '\x7f', '\xff', '#', '#'};

inline const char* scan(const char* p, const char* end, std::uint8_t cls) {
    if (keel::detail::have_sse42()) {
        p = keel::detail::find_in_ranges_sse42(p, end, cls == kValue ? kValueStops : kTargetStops, 6);
    }
    while (p < end && is(static_cast<unsigned char>(*p), cls)) {
        ++p;
    }
    return p;
}

// Calls fn(element) for each element of a comma-separated list, trimmed; empty elements skipped
// (RFC 9110 §5.6.1). Returns false if fn does.
template <class F>
bool for_each_list_element(std::string_view list, F fn) {
    while (!list.empty()) {
        std::size_t comma = list.find(',');
        std::string_view item = trim_ows(list.substr(0, comma));
        if (!item.empty() && !fn(item)) {
            return false;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return true;
}

// 1*DIGIT without sign or overflow.
bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
    if (s.empty() || s.size() > 19) {
        return false;  // 19 digits always fit in 64 bits
    }
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out = v;
    return true;
}

struct Cursor {
    const char* p;
    const char* end;
};

// Scans one header-field or request-line terminator: expects CRLF at p. Returns 1 on CRLF,
// 0 when more bytes are needed, -1 on a bare CR (error set).
int expect_crlf(Cursor& c, ParseError& err) noexcept {
    if (c.p == c.end) {
        return 0;
    }
    if (*c.p == '\n') {
        err = ParseError::bare_lf;
        return -1;
    }
    if (*c.p != '\r') {
        return -1;  // caller sets the specific error
    }
    if (c.p + 1 == c.end) {
        return 0;
    }
    if (c.p[1] != '\n') {
        err = ParseError::bare_cr;
        return -1;
    }
    c.p += 2;
    return 1;
}

ParseResult incomplete_or_limit(std::size_t len, const ParserLimits& limits, bool in_request_line) {
    if (in_request_line && len > limits.max_uri_bytes + 64) {
        return {ParseStatus::error, 0, ParseError::uri_too_long};
    }
    if (len > limits.max_header_bytes) {
        return {ParseStatus::error, 0, ParseError::headers_too_large};
    }
    return {ParseStatus::incomplete};
}

ParseResult fail(ParseError e) {
    return {ParseStatus::error, 0, e};
}

}  // namespace

bool valid_host(std::string_view h) noexcept {
    std::size_t i = 0;
    if (!h.empty() && h[0] == '[') {
        // IP-literal: an IPv6 address (hex digits, ':' and an embedded IPv4's '.').
        std::size_t close = h.find(']');
        if (close == std::string_view::npos || close == 1) {
            return false;
        }
        for (i = 1; i < close; ++i) {
            if (!is(static_cast<unsigned char>(h[i]), kHex) && h[i] != ':' && h[i] != '.') {
                return false;
            }
        }
        i = close + 1;
    } else {
        // reg-name or IPv4address: unreserved / sub-delims / pct-encoded.
        for (; i < h.size() && h[i] != ':'; ++i) {
            if (h[i] == '%') {
                if (i + 2 >= h.size() || !is(static_cast<unsigned char>(h[i + 1]), kHex) ||
                    !is(static_cast<unsigned char>(h[i + 2]), kHex)) {
                    return false;
                }
                i += 2;
            } else if (!is(static_cast<unsigned char>(h[i]), kHost)) {
                return false;
            }
        }
    }
    if (i == h.size()) {
        return true;
    }
    if (h[i] != ':') {
        return false;
    }
    // port = *DIGIT; keel also refuses what cannot be a TCP port.
    std::string_view port = h.substr(i + 1);
    std::uint64_t n = 0;
    return port.empty() || (port.size() <= 5 && parse_decimal(port, n) && n <= 65535);
}

namespace {

/// authority-form (RFC 9112 §3.2.3): host ":" port, the port required; CONNECT's only form.
bool authority_form(std::string_view target) noexcept {
    std::size_t colon = target.rfind(':');
    return colon != std::string_view::npos && colon + 1 < target.size() && target.back() != ']' && valid_host(target);
}

/// The authority of an absolute-form target ("http://a.example:8080/x?y" → "a.example:8080").
std::string_view target_authority(std::string_view target) noexcept {
    std::size_t begin = target.find("://");
    if (begin == std::string_view::npos) {
        return {};
    }
    begin += 3;
    std::size_t end = target.find_first_of("/?", begin);
    return target.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

// Checks framing and connection semantics once every header is known.
ParseError analyze(RequestHead& head) {
    bool have_cl = false;
    bool have_te = false;
    bool chunked_last = false;
    bool other_coding = false;
    int host_count = 0;
    bool close = false;
    bool keep_alive_token = false;
    std::uint64_t cl = 0;

    for (const Header& h : *head.headers) {
        std::string_view n = h.name;
        // Cheap first-letter dispatch keeps the common headers off the compare path.
        switch (n[0] | 0x20) {
            case 'c':
                if (iequals(n, "content-length")) {
                    // 1*DIGIT, or a list of identical values (RFC 9110 §8.6). Unlike general
                    // lists, empty elements are an error: this field decides the framing.
                    std::string_view rest = h.value;
                    for (;;) {
                        std::size_t comma = rest.find(',');
                        std::uint64_t x;
                        if (!parse_decimal(trim_ows(rest.substr(0, comma)), x)) {
                            return ParseError::bad_content_length;
                        }
                        if (have_cl && x != cl) {
                            return ParseError::conflicting_content_length;
                        }
                        have_cl = true;
                        cl = x;
                        if (comma == std::string_view::npos) {
                            break;
                        }
                        rest.remove_prefix(comma + 1);
                    }
                } else if (iequals(n, "connection")) {
                    for_each_list_element(h.value, [&](std::string_view v) {
                        if (iequals(v, "close")) {
                            close = true;
                        } else if (iequals(v, "keep-alive")) {
                            keep_alive_token = true;
                        }
                        return true;
                    });
                }
                break;
            case 't':
                if (iequals(n, "transfer-encoding")) {
                    have_te = true;
                    bool ok = for_each_list_element(h.value, [&](std::string_view v) {
                        if (chunked_last) {
                            // chunked applied twice, or a coding after chunked
                            chunked_last = false;
                            return false;
                        }
                        if (iequals(v, "chunked")) {
                            chunked_last = true;
                        } else {
                            other_coding = true;
                        }
                        return true;
                    });
                    if (!ok) {
                        return ParseError::chunked_not_last;
                    }
                }
                break;
            case 'h':
                if (iequals(n, "host")) {
                    ++host_count;
                    head.host = h.value;
                    if (!valid_host(h.value)) {
                        return ParseError::bad_host;
                    }
                }
                break;
            case 'e':
                if (iequals(n, "expect")) {
                    if (!iequals(h.value, "100-continue")) {
                        return ParseError::expectation_failed;
                    }
                    head.expect_continue = true;
                }
                break;
            default:
                break;
        }
    }

    if (host_count > 1) {
        return ParseError::duplicate_host;
    }
    if (host_count == 0 && head.version_minor >= 1) {
        return ParseError::missing_host;
    }
    if (have_te) {
        if (have_cl) {
            return ParseError::content_length_with_transfer_encoding;
        }
        if (head.version_minor == 0) {
            return ParseError::transfer_encoding_http10;
        }
        if (!chunked_last) {
            return ParseError::chunked_not_last;
        }
        if (other_coding) {
            return ParseError::unsupported_transfer_coding;
        }
        head.body_kind = BodyKind::chunked;
    } else if (have_cl) {
        head.content_length = cl;
        head.body_kind = cl > 0 ? BodyKind::content_length : BodyKind::none;
    }
    head.keep_alive = head.version_minor >= 1 ? !close : (keep_alive_token && !close);
    if (head.body_kind == BodyKind::none) {
        head.expect_continue = false;  // nothing to continue with
    }
    return ParseError::none;
}

}  // namespace

std::size_t find_lf(const char* data, std::size_t len, std::size_t from) noexcept {
    if (from >= len) {
        return len;
    }
    const void* p = std::memchr(data + from, '\n', len - from);
    return p ? static_cast<std::size_t>(static_cast<const char*>(p) - data) : len;
}

ParseResult parse_request_head(const char* data, std::size_t len, RequestHead& head, const ParserLimits& limits) {
    Cursor c{data, data + len};
    ParseError err = ParseError::none;
    head.headers->clear();
    head.body_kind = BodyKind::none;
    head.content_length = 0;
    head.expect_continue = false;
    head.host = {};

    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    // We ignore exactly one CRLF (clients send it after a POST body); more is an error.
    if (len >= 1 && data[0] == '\r') {
        if (len < 2) {
            return {ParseStatus::incomplete};
        }
        if (data[1] != '\n') {
            return fail(ParseError::bare_cr);
        }
        c.p += 2;
    }

    // method
    const char* start = c.p;
    while (c.p < c.end && is(static_cast<unsigned char>(*c.p), kToken)) {
        ++c.p;
    }
    if (c.p == c.end) {
        return incomplete_or_limit(len, limits, true);
    }
    if (*c.p != ' ' || c.p == start) {
        bool line_ended = c.p == start && (*c.p == '\r' || *c.p == '\n');
        return fail(line_ended ? ParseError::bad_request_line : ParseError::bad_method);
    }
    head.method = {start, static_cast<std::size_t>(c.p - start)};
    ++c.p;

    // request-target
    start = c.p;
    c.p = scan(c.p, c.end, kTarget);
    if (c.p == c.end) {
        return incomplete_or_limit(len, limits, true);
    }
    std::size_t target_len = static_cast<std::size_t>(c.p - start);
    if (target_len > limits.max_uri_bytes) {
        return fail(ParseError::uri_too_long);
    }
    if (*c.p != ' ' || target_len == 0) {
        return fail(*c.p == ' ' || *c.p == '\r' || *c.p == '\n' ? ParseError::bad_request_line
                                                                : ParseError::bad_target);
    }
    head.target = {start, target_len};
    {
        char first = head.target[0];
        bool ok = first == '/' || (head.target == "*" && head.method == "OPTIONS");
        if (head.method == "CONNECT") {
            ok = authority_form(head.target);  // its only form (RFC 9112 §3.2.3)
        } else if (!ok) {
            // absolute-form (RFC 9112 §3.2.2) for the schemes an origin server serves.
            std::string_view t = head.target;
            auto starts = [&](std::string_view prefix) {
                return t.size() > prefix.size() && iequals(t.substr(0, prefix.size()), prefix);
            };
            ok = starts("http://") || starts("https://");
            if (ok) {
                // A non-empty authority that is a valid host[:port], ending at the path, query
                // or the end. No userinfo: RFC 9110 §4.2.4 deprecates it for http(s) and it has
                // fooled URL parsers before.
                std::string_view authority = target_authority(t);
                ok = !authority.empty() && valid_host(authority);
            }
        }
        if (!ok) {
            return fail(ParseError::bad_target);
        }
    }
    ++c.p;

    // HTTP-version
    if (c.end - c.p < 8) {
        if (std::memcmp(c.p, "HTTP/", std::min<std::size_t>(5, static_cast<std::size_t>(c.end - c.p))) != 0) {
            return fail(ParseError::bad_version);
        }
        return incomplete_or_limit(len, limits, true);
    }
    if (std::memcmp(c.p, "HTTP/", 5) != 0 || c.p[5] < '0' || c.p[5] > '9' || c.p[6] != '.' || c.p[7] < '0' ||
        c.p[7] > '9') {
        return fail(ParseError::bad_version);
    }
    if (c.p[5] != '1') {
        return fail(ParseError::unsupported_version);
    }
    head.version_minor = c.p[7] == '0' ? 0 : 1;
    c.p += 8;
    int r = expect_crlf(c, err);
    if (r == 0) {
        return incomplete_or_limit(len, limits, true);
    }
    if (r < 0) {
        return fail(err != ParseError::none ? err : ParseError::bad_version);
    }

    // header fields
    for (;;) {
        if (static_cast<std::size_t>(c.p - data) > limits.max_header_bytes) {
            return fail(ParseError::headers_too_large);
        }
        if (c.p == c.end) {
            return incomplete_or_limit(len, limits, false);
        }
        char ch = *c.p;
        if (ch == '\r' || ch == '\n') {
            r = expect_crlf(c, err);
            if (r == 0) {
                return incomplete_or_limit(len, limits, false);
            }
            if (r < 0) {
                return fail(err);
            }
            break;  // end of head
        }
        if (ch == ' ' || ch == '\t') {
            return fail(ParseError::obs_fold);
        }
        start = c.p;
        while (c.p < c.end && is(static_cast<unsigned char>(*c.p), kToken)) {
            ++c.p;
        }
        if (c.p == c.end) {
            return incomplete_or_limit(len, limits, false);
        }
        if (*c.p != ':') {
            if (c.p == start) {
                return fail(*c.p == '\n' ? ParseError::bare_lf : ParseError::bad_header_name);
            }
            return fail(*c.p == ' ' || *c.p == '\t' ? ParseError::whitespace_before_colon
                        : *c.p == '\n'              ? ParseError::bare_lf
                                                    : ParseError::bad_header_name);
        }
        if (c.p == start) {
            return fail(ParseError::bad_header_name);
        }
        std::string_view name{start, static_cast<std::size_t>(c.p - start)};
        ++c.p;
        while (c.p < c.end && (*c.p == ' ' || *c.p == '\t')) {
            ++c.p;
        }
        start = c.p;
        c.p = scan(c.p, c.end, kValue);
        if (c.p == c.end) {
            return incomplete_or_limit(len, limits, false);
        }
        const char* value_end = c.p;
        r = expect_crlf(c, err);
        if (r == 0) {
            return incomplete_or_limit(len, limits, false);
        }
        if (r < 0) {
            return fail(err != ParseError::none ? err : ParseError::bad_header_value);
        }
        while (value_end > start && (value_end[-1] == ' ' || value_end[-1] == '\t')) {
            --value_end;
        }
        if (head.headers->size() >= limits.max_headers) {
            return fail(ParseError::too_many_headers);
        }
        head.headers->push_back({name, {start, static_cast<std::size_t>(value_end - start)}});
    }

    std::size_t consumed = static_cast<std::size_t>(c.p - data);
    if (consumed > limits.max_header_bytes) {
        return fail(ParseError::headers_too_large);
    }
    if (ParseError e = analyze(head); e != ParseError::none) {
        return fail(e);
    }
    if (head.target[0] != '/' && head.target != "*" && head.method != "CONNECT") {
        // absolute-form: the target's authority is the host; a Host header is ignored
        // (RFC 9112 §3.2.2), so the two cannot be played against each other.
        head.host = target_authority(head.target);
    }
    if (head.body_kind == BodyKind::content_length && head.content_length > limits.max_body_bytes) {
        return fail(ParseError::body_too_large);
    }
    return {ParseStatus::complete, consumed, ParseError::none};
}

int status_for(ParseError e) noexcept {
    switch (e) {
        case ParseError::uri_too_long:
            return 414;
        case ParseError::headers_too_large:
        case ParseError::too_many_headers:
            return 431;
        case ParseError::body_too_large:
            return 413;
        case ParseError::expectation_failed:
            return 417;
        case ParseError::unsupported_transfer_coding:
            return 501;
        case ParseError::unsupported_version:
            return 505;
        case ParseError::none:
            return 200;
        default:
            return 400;
    }
}

std::string_view describe(ParseError e) noexcept {
    switch (e) {
        case ParseError::none:
            return "no error";
        case ParseError::bad_request_line:
            return "malformed request line";
        case ParseError::bad_method:
            return "method is not a valid token";
        case ParseError::bad_target:
            return "invalid request target";
        case ParseError::bad_version:
            return "malformed HTTP version";
        case ParseError::unsupported_version:
            return "HTTP version not supported";
        case ParseError::bad_header_name:
            return "invalid character in header name";
        case ParseError::whitespace_before_colon:
            return "whitespace between header name and colon";
        case ParseError::bad_header_value:
            return "invalid character in header value";
        case ParseError::obs_fold:
            return "obsolete line folding is not allowed";
        case ParseError::bare_cr:
            return "CR not followed by LF";
        case ParseError::bare_lf:
            return "LF without preceding CR";
        case ParseError::missing_host:
            return "HTTP/1.1 request without Host header";
        case ParseError::duplicate_host:
            return "more than one Host header";
        case ParseError::bad_host:
            return "Host header is not a valid host[:port]";
        case ParseError::bad_content_length:
            return "invalid Content-Length";
        case ParseError::conflicting_content_length:
            return "conflicting Content-Length values";
        case ParseError::content_length_with_transfer_encoding:
            return "both Content-Length and Transfer-Encoding";
        case ParseError::transfer_encoding_http10:
            return "Transfer-Encoding in an HTTP/1.0 request";
        case ParseError::chunked_not_last:
            return "Transfer-Encoding must end with chunked, once";
        case ParseError::unsupported_transfer_coding:
            return "unsupported transfer coding";
        case ParseError::bad_chunk_size:
            return "invalid chunk size";
        case ParseError::bad_chunk:
            return "malformed chunked body";
        case ParseError::uri_too_long:
            return "request target too long";
        case ParseError::headers_too_large:
            return "request header fields too large";
        case ParseError::too_many_headers:
            return "too many header fields";
        case ParseError::body_too_large:
            return "request body too large";
        case ParseError::expectation_failed:
            return "unsupported expectation";
    }
    return "unknown error";
}

}  // namespace keel::http
