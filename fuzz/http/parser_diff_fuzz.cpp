// Differential fuzz target: keel's parser against http_parser 2.9.4 (Debian's libhttp-parser,
// tests only). For every input both must agree on accept/reject and, when both accept a
// complete message, on method, target, version, headers and body.
//
// keel is deliberately stricter in these cases (http_parser accepts, keel answers 400/4xx/5xx);
// they are the only disagreements tolerated:
//   - obs-fold (RFC 9112 §5.2: a server MUST reject it or replace it; keel rejects)
//   - bare LF as a line terminator (RFC 9112 §2.2 allows recipients to accept; keel does not)
//   - bare CR anywhere (RFC 9112 §2.2: MUST be treated as invalid or replaced)
//   - whitespace between field name and colon (RFC 9112 §5.1: MUST reject with 400)
//   - control characters in field values (RFC 9110 §5.5)
//   - missing, duplicate or invalid Host in HTTP/1.1 (RFC 9112 §3.2: MUST respond 400)
//   - a fragment ('#') or a non-ASCII byte in the request-target (RFC 9112 §3.2, RFC 3986)
//   - a target that is neither origin-, absolute- nor asterisk-form (RFC 9112 §3.2)
//   - HTTP versions other than 1.x (RFC 9110 §2.5: 505); Expect other than 100-continue (417)
//   - Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1) or not ending in chunked (§6.3), or a
//     coding keel does not implement before chunked (501)
//   - Content-Length that is empty, signed, or a list of differing values (RFC 9110 §8.6)
//   - chunk extensions with control characters, chunk sizes over 16 hex digits, and
//     Content-Length/Transfer-Encoding/Host in trailers (RFC 9110 §6.5.1)
//   - keel's limits (header bytes, header count, URI length, body size)
// keel is laxer in one case: extension methods (RFC 9110 §9.1: method = token); http_parser
// only knows a fixed list.
// http_parser 2.9.4 quirks tolerated (the oracle is wrong, keel is right):
//   - a header whose name merely starts with "Transfer-Encoding" ("Transfer-Encodingx") makes
//     it fail with HPE_INVALID_TRANSFER_ENCODING or HPE_UNEXPECTED_CONTENT_LENGTH as if a
//     Transfer-Encoding were present;
//   - its Transfer-Encoding checks (added in 2.9.3) misfire on values RFC 9110 allows: empty
//     list elements (", chunked", §5.6.1) and trailing whitespace ("chunked\t", §5.5); so a
//     rejection with HPE_INVALID_TRANSFER_ENCODING is never counted as a disagreement (keel's
//     own Transfer-Encoding rules are covered by the unit tests);
//   - repeated identical Content-Length values, which RFC 9110 §8.6 lets a recipient accept
//     as one, make it fail with HPE_UNEXPECTED_CONTENT_LENGTH (keel accepts them);
//   - whitespace after a Content-Length value ("5\t"), which is OWS and trimmed (RFC 9110
//     §5.5), or around the commas of a list of identical values ("1\t,\t1", §5.6.1), makes it
//     fail with HPE_INVALID_CONTENT_LENGTH;
//   - whitespace between a chunk size and its extension ("5 ;x"), BWS that RFC 9112 §7.1.1
//     allows, makes it fail with HPE_INVALID_CHUNK_SIZE.
#include <keel/http/chunked.hpp>
#include <keel/http/parser.hpp>

#include <http_parser.h>

#include <strings.h>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace keel::http;

namespace {

struct Oracle {
    bool complete = false;
    std::string method, url, body;
    int major = 0, minor = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    bool in_value = false;
};

int on_url(http_parser* p, const char* at, std::size_t n) {
    static_cast<Oracle*>(p->data)->url.append(at, n);
    return 0;
}
int on_field(http_parser* p, const char* at, std::size_t n) {
    auto* o = static_cast<Oracle*>(p->data);
    if (o->headers.empty() || o->in_value) {
        o->headers.emplace_back();
        o->in_value = false;
    }
    o->headers.back().first.append(at, n);
    return 0;
}
int on_value(http_parser* p, const char* at, std::size_t n) {
    auto* o = static_cast<Oracle*>(p->data);
    o->headers.back().second.append(at, n);
    o->in_value = true;
    return 0;
}
int on_headers_complete(http_parser* p) {
    auto* o = static_cast<Oracle*>(p->data);
    o->method = http_method_str(static_cast<http_method>(p->method));
    o->major = p->http_major;
    o->minor = p->http_minor;
    return 0;
}
int on_body(http_parser* p, const char* at, std::size_t n) {
    static_cast<Oracle*>(p->data)->body.append(at, n);
    return 0;
}
int on_message_complete(http_parser* p) {
    static_cast<Oracle*>(p->data)->complete = true;
    http_parser_pause(p, 1);  // stop after the first message
    return 0;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.pop_back();
    }
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
        ++i;
    }
    return s.substr(i);
}

// Errors where keel is knowingly stricter than http_parser (see the list above).
bool stricter_by_design(ParseError e) {
    switch (e) {
        case ParseError::obs_fold:
        case ParseError::bare_lf:
        case ParseError::bare_cr:
        case ParseError::whitespace_before_colon:
        case ParseError::bad_header_value:
        case ParseError::bad_header_name:
        case ParseError::missing_host:
        case ParseError::duplicate_host:
        case ParseError::bad_host:
        case ParseError::bad_target:
        case ParseError::bad_request_line:
        case ParseError::bad_version:
        case ParseError::unsupported_version:
        case ParseError::expectation_failed:
        case ParseError::transfer_encoding_http10:
        case ParseError::chunked_not_last:
        case ParseError::unsupported_transfer_coding:
        case ParseError::bad_content_length:
        case ParseError::conflicting_content_length:
        case ParseError::content_length_with_transfer_encoding:
        case ParseError::bad_chunk:
        case ParseError::bad_chunk_size:
        case ParseError::uri_too_long:
        case ParseError::headers_too_large:
        case ParseError::too_many_headers:
        case ParseError::body_too_large:
            return true;
        default:
            return false;
    }
}

// A hex digit followed by SP/HTAB somewhere in the body: a chunk-size line with BWS.
bool chunk_size_followed_by_bws(const char* p, const char* end) {
    for (; p + 1 < end; ++p) {
        if (std::isxdigit(static_cast<unsigned char>(*p)) && (p[1] == ' ' || p[1] == '\t')) {
            return true;
        }
    }
    return false;
}

// keel's values are trimmed views into the input: look at the byte right after one, and
// inside it (OWS around the commas of a list of identical values, RFC 9110 §5.6.1).
bool content_length_has_ows(const std::vector<Header>& headers, const char* input_end) {
    for (const Header& h : headers) {
        if (h.name.size() == 14 && strncasecmp(h.name.data(), "content-length", 14) == 0) {
            const char* after = h.value.data() + h.value.size();
            if (after < input_end && (*after == ' ' || *after == '\t')) {
                return true;
            }
            if (h.value.find_first_of(" \t") != std::string_view::npos) {
                return true;
            }
        }
    }
    return false;
}

int content_length_values(const std::vector<Header>& headers) {
    int n = 0;
    for (const Header& h : headers) {
        if (h.name.size() == 14 && strncasecmp(h.name.data(), "content-length", 14) == 0) {
            n += 1 + static_cast<int>(std::count(h.value.begin(), h.value.end(), ','));
        }
    }
    return n;
}

bool has_te_prefixed_name(const std::vector<Header>& headers) {
    for (const Header& h : headers) {
        if (h.name.size() > 17 && strncasecmp(h.name.data(), "transfer-encoding", 17) == 0) {
            return true;
        }
    }
    return false;
}

[[noreturn]] void finding(const char* what) {
    std::fprintf(stderr, "parser disagreement: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const char* data = reinterpret_cast<const char*>(bytes);

    // keel
    ParserLimits limits;
    limits.max_header_bytes = 80 * 1024;  // http_parser's default
    limits.max_uri_bytes = 80 * 1024;
    limits.max_headers = 100000;
    limits.max_body_bytes = 1 << 20;
    std::vector<Header> headers;
    RequestHead head;
    head.headers = &headers;
    ParseResult r = parse_request_head(data, size, head, limits);
    ParseStatus keel_status = r.status;
    ParseError keel_error = r.error;
    std::string keel_body;
    std::vector<Header> trailers;
    if (r.status == ParseStatus::complete) {
        std::size_t avail = size - r.consumed;
        if (head.body_kind == BodyKind::content_length) {
            keel_status = avail >= head.content_length ? ParseStatus::complete : ParseStatus::incomplete;
            if (keel_status == ParseStatus::complete) {
                keel_body.assign(data + r.consumed, head.content_length);
            }
        } else if (head.body_kind == BodyKind::chunked) {
            std::string buf(data + r.consumed, avail);
            ChunkedDecoder d(limits.max_body_bytes);
            ParseResult b = d.decode(buf.data(), buf.size(), &trailers);
            keel_status = b.status;
            keel_error = b.error;
            if (b.status == ParseStatus::complete) {
                keel_body = buf.substr(0, d.decoded());
            }
        }
    }

    // http_parser
    Oracle o;
    http_parser parser;
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &o;
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    settings.on_url = on_url;
    settings.on_header_field = on_field;
    settings.on_header_value = on_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    http_parser_execute(&parser, &settings, data, size);
    http_errno hp_errno = HTTP_PARSER_ERRNO(&parser);
    bool hp_error = hp_errno != HPE_OK && hp_errno != HPE_PAUSED;

    if (keel_status == ParseStatus::error) {
        if (!hp_error && !stricter_by_design(keel_error)) {
            finding("keel rejects what http_parser accepts, outside the documented cases");
        }
        return 0;
    }
    if (hp_error) {
        if (hp_errno == HPE_INVALID_METHOD) {
            return 0;  // extension methods: keel accepts any token
        }
        if ((hp_errno == HPE_INVALID_TRANSFER_ENCODING || hp_errno == HPE_UNEXPECTED_CONTENT_LENGTH) &&
            has_te_prefixed_name(headers)) {
            return 0;  // oracle quirk, see above
        }
        if (hp_errno == HPE_INVALID_CHUNK_SIZE && head.body_kind == BodyKind::chunked &&
            chunk_size_followed_by_bws(data + r.consumed, data + size)) {
            return 0;  // oracle quirk, see above
        }
        if (hp_errno == HPE_INVALID_CONTENT_LENGTH && content_length_has_ows(headers, data + size)) {
            return 0;  // oracle quirk, see above
        }
        if (hp_errno == HPE_UNEXPECTED_CONTENT_LENGTH && content_length_values(headers) > 1) {
            return 0;  // oracle quirk: identical repeated values (keel checked they are identical)
        }
        if (hp_errno == HPE_INVALID_TRANSFER_ENCODING) {
            return 0;  // oracle quirks, see above: its 2.9.3 Transfer-Encoding checks misfire
        }
        if (keel_status == ParseStatus::complete) {
            finding("keel accepts a message http_parser rejects");
        }
        return 0;  // keel still waiting for bytes of a message http_parser already rejected
    }
    if (keel_status != ParseStatus::complete || !o.complete) {
        // One is still waiting for bytes. Only a complete-vs-incomplete split on the same bytes
        // is a disagreement about framing.
        if (keel_status == ParseStatus::complete && !o.complete) {
            finding("keel completed a message http_parser needs more bytes for");
        }
        if (o.complete && keel_status == ParseStatus::incomplete) {
            finding("http_parser completed a message keel needs more bytes for");
        }
        return 0;
    }
    if (o.method != head.method) {
        finding("method");
    }
    if (o.url != head.target) {
        finding("target");
    }
    if (o.major != 1 || o.minor != (head.version_minor == 0 ? 0 : (data[0] == '\r' ? o.minor : o.minor))) {
        finding("version");
    }
    if (o.headers.size() != headers.size() + trailers.size()) {
        finding("header count");
    }
    for (std::size_t i = 0; i < headers.size(); ++i) {
        if (o.headers[i].first != headers[i].name || trim(o.headers[i].second) != headers[i].value) {
            finding("header");
        }
    }
    if (o.body != keel_body) {
        finding("body");
    }
    return 0;
}
