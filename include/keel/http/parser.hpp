#pragma once
/// keel's HTTP/1.1 request parser, in the manner of picohttpparser: the caller owns the bytes,
/// the output is views into them, nothing is allocated (the header vector is reused), and a
/// call on a longer prefix of the same bytes simply parses again. Strict by design: every
/// framing ambiguity that enables request smuggling is an error (see ParseError).
///
/// Not for responses, HTTP/2, or CONNECT tunnels.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace keel::http {

enum class ParseStatus : std::uint8_t { complete, incomplete, error };

/// Why a request was rejected. status_for() maps each to the HTTP status keel answers with;
/// every one of them also closes the connection.
enum class ParseError : std::uint8_t {
    none,
    bad_request_line,         ///< not `method SP target SP version CRLF`
    bad_method,               ///< method is not a token
    bad_target,               ///< control, space or non-ASCII byte in the target, or not origin/absolute/asterisk form
    bad_version,              ///< not `HTTP/<digit>.<digit>`
    unsupported_version,      ///< HTTP/0.9 or HTTP/2+ over this parser (505)
    bad_header_name,          ///< empty name or a byte that is not a token character
    whitespace_before_colon,  ///< `Name : value` (RFC 9112 §5.1)
    bad_header_value,         ///< control character in a value
    obs_fold,                 ///< a line starting with SP/HTAB (RFC 9112 §5.2)
    bare_cr,                  ///< CR not followed by LF
    bare_lf,                  ///< LF not preceded by CR
    missing_host,             ///< HTTP/1.1 without Host (RFC 9112 §3.2)
    duplicate_host,           ///< more than one Host
    bad_host,                 ///< Host is not uri-host [":" port] (RFC 9112 §3.2, RFC 9110 §7.2)
    bad_content_length,       ///< not 1*DIGIT, or overflows
    conflicting_content_length,  ///< differing Content-Length values
    content_length_with_transfer_encoding,
    transfer_encoding_http10,     ///< Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)
    chunked_not_last,             ///< Transfer-Encoding whose final coding is not chunked (RFC 9112 §6.3)
    unsupported_transfer_coding,  ///< a coding besides chunked (501)
    bad_chunk_size,               ///< not hex, empty, or overflows
    bad_chunk,                    ///< missing CRLF after chunk data, bad extension or trailer
    uri_too_long,                 ///< 414
    headers_too_large,            ///< 431: the head exceeds max_header_bytes
    too_many_headers,             ///< 431
    body_too_large,               ///< 413
    expectation_failed,           ///< Expect other than 100-continue (417)
};

/// The HTTP status keel answers a ParseError with (400, 413, 414, 417, 431, 501 or 505).
int status_for(ParseError e) noexcept;
/// A one-line human explanation ("whitespace between header name and colon").
std::string_view describe(ParseError e) noexcept;

struct ParserLimits {
    std::size_t max_header_bytes = 16 * 1024;  ///< request line + headers + CRLFs
    std::size_t max_uri_bytes = 8 * 1024;
    std::size_t max_headers = 100;
    std::uint64_t max_body_bytes = 1024 * 1024;
};

struct Header {
    std::string_view name = {};
    std::string_view value = {};  ///< leading and trailing whitespace removed
};

enum class BodyKind : std::uint8_t { none, content_length, chunked };

/// The parsed head of a request. Views point into the parsed buffer.
struct RequestHead {
    std::string_view method = {};
    std::string_view target = {};
    std::uint8_t version_minor = 1;          ///< 0 for HTTP/1.0, 1 for HTTP/1.1 (and 1.x, x > 1)
    std::uint8_t version_major = 1;          ///< 2 for a request that came on HTTP/2
    std::vector<Header>* headers = nullptr;  ///< caller-provided, cleared and reused

    BodyKind body_kind = BodyKind::none;
    std::uint64_t content_length = 0;
    bool keep_alive = true;
    bool expect_continue = false;
    /// The Host header, or the target's authority for an absolute-form target (which wins,
    /// RFC 9112 §3.2.2). Always a valid host[:port] (possibly empty).
    std::string_view host = {};
};

struct ParseResult {
    ParseStatus status = {};
    std::size_t consumed = 0;  ///< bytes of the head (on complete)
    ParseError error = ParseError::none;
};

/// Parses a request head from data[0, len). `head.headers` must be set. Returns complete with
/// the head's length, incomplete when more bytes are needed (and the limits are not yet
/// exceeded), or error. Never reads past len.
ParseResult parse_request_head(const char* data, std::size_t len, RequestHead& head, const ParserLimits& limits);

/// True when `host` is `uri-host [":" port]` (RFC 3986 §3.2.2): an IPv6 literal in brackets or
/// a name / IPv4 address of unreserved, sub-delims and %XX bytes; a port of at most 65535.
/// The empty string is valid (a Host for a target without authority).
bool valid_host(std::string_view host) noexcept;

/// Finds the first LF at or after `from`; returns len if none. Used by callers to skip
/// re-parsing until a new line has arrived (keeps slow senders linear).
std::size_t find_lf(const char* data, std::size_t len, std::size_t from) noexcept;

}  // namespace keel::http
