// libFuzzer target for keel's request parser. Beyond "no crash, no UB" (ASan/UBSan), it checks
// properties every input must satisfy:
//   - views stay inside the input and `consumed` never exceeds it;
//   - a complete head parses to the same result from exactly its own bytes (no look-ahead);
//   - every strict prefix of a complete head is incomplete (no early acceptance);
//   - chunked bodies decode to the same bytes and trailers whether fed whole or byte by byte.
#include <keel/http/chunked.hpp>
#include <keel/http/parser.hpp>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace keel::http;

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

bool inside(std::string_view v, const char* base, std::size_t len) {
    return v.empty() || (v.data() >= base && v.data() + v.size() <= base + len);
}

struct Decoded {
    ParseStatus status;
    std::string body;
    std::vector<std::string> trailers;
    std::size_t consumed;
};

Decoded decode_chunked(const char* data, std::size_t len, std::size_t step) {
    ChunkedDecoder d(1 << 20);
    std::string buf;
    std::vector<Header> trailers;
    Decoded out{ParseStatus::incomplete, {}, {}, 0};
    std::size_t fed = 0;
    while (fed < len) {
        std::size_t n = std::min(step, len - fed);
        buf.append(data + fed, n);
        fed += n;
        ParseResult r = d.decode(buf.data(), buf.size(), &trailers);
        out.status = r.status;
        if (r.status != ParseStatus::incomplete) {
            break;
        }
    }
    if (out.status == ParseStatus::complete) {
        out.body = buf.substr(0, d.decoded());
        out.consumed = d.consumed();
        for (const Header& t : trailers) {
            out.trailers.push_back(std::string(t.name) + ":" + std::string(t.value));
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const char* data = reinterpret_cast<const char*>(bytes);
    ParserLimits limits;
    limits.max_header_bytes = 4096;
    limits.max_uri_bytes = 1024;
    limits.max_headers = 32;
    limits.max_body_bytes = 1 << 20;

    std::vector<Header> headers;
    RequestHead head;
    head.headers = &headers;
    ParseResult r = parse_request_head(data, size, head, limits);
    check(r.consumed <= size);
    if (r.status != ParseStatus::complete) {
        return 0;
    }
    check(inside(head.method, data, size) && inside(head.target, data, size));
    check(headers.size() <= limits.max_headers);
    for (const Header& h : headers) {
        check(inside(h.name, data, size) && inside(h.value, data, size) && !h.name.empty());
    }

    // Same answer from exactly the head's bytes, in a fresh buffer.
    std::string copy(data, r.consumed);
    std::vector<Header> headers2;
    RequestHead head2;
    head2.headers = &headers2;
    ParseResult r2 = parse_request_head(copy.data(), copy.size(), head2, limits);
    check(r2.status == ParseStatus::complete && r2.consumed == r.consumed);
    check(head2.method == head.method && head2.target == head.target && headers2.size() == headers.size());
    check(head2.body_kind == head.body_kind && head2.content_length == head.content_length);

    // No strict prefix is complete (checked on a few cut points to keep the target fast).
    for (std::size_t cut : {r.consumed - 1, r.consumed / 2, std::size_t{1}}) {
        if (cut < r.consumed) {
            std::vector<Header> h3;
            RequestHead head3;
            head3.headers = &h3;
            check(parse_request_head(copy.data(), cut, head3, limits).status != ParseStatus::complete);
        }
    }

    if (head.body_kind == BodyKind::chunked) {
        const char* body = data + r.consumed;
        std::size_t body_len = size - r.consumed;
        Decoded whole = decode_chunked(body, body_len, body_len ? body_len : 1);
        Decoded bytewise = decode_chunked(body, body_len, 1);
        check(whole.status == bytewise.status);
        if (whole.status == ParseStatus::complete) {
            check(whole.body == bytewise.body && whole.trailers == bytewise.trailers &&
                  whole.consumed == bytewise.consumed);
        }
    }
    return 0;
}
