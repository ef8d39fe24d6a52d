// A program of the message model only (http + json, no server): parses a request head, binds
// its JSON body, builds the answer, prints it. Built against the installed keel with
// pkg-config; check_package.sh checks that it links no nghttp2.
#include <keel/http/parser.hpp>
#include <keel/json/parse.hpp>

#include <cstdio>
#include <string_view>
#include <vector>

struct Sum {
    int a = 0;
    int b = 0;
};
KEEL_JSON(Sum, a, b)

int main() {
    constexpr std::string_view wire = "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{\"a\":2,\"b\":3}";
    std::vector<keel::http::Header> headers;
    keel::http::RequestHead head;
    head.headers = &headers;
    auto parsed = keel::http::parse_request_head(wire.data(), wire.size(), head, {});
    if (parsed.status != keel::http::ParseStatus::complete) {
        return 1;
    }
    Sum sum;
    keel::json::Errors errors;
    if (!keel::json::parse(wire.substr(parsed.consumed), sum, errors)) {
        return 2;
    }
    std::printf("%.*s %d\n", static_cast<int>(head.target.size()), head.target.data(), sum.a + sum.b);
    return 0;
}
