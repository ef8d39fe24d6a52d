#include "serializer.hpp"

#include <keel/http/status.hpp>

#include <charconv>

namespace keel::http {

Framing serialize_response(std::string& out, Response& r, const HeadContext& context, bool stream) {
    int status = r.status();
    if (status < 100 || status > 999) {
        status = 500;
    }
    char code[4] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10), ' '};
    out.append("HTTP/1.1 ");
    out.append(code, 4);
    out.append(reason_phrase(status));
    out.append("\r\n");
    out.append(r.header_block());
    out.append(context.date_line);

    Framing framing;
    framing.closing = !context.keep_alive || r.wants_close() || context.must_close;
    bool body_allowed = status_allows_body(status);
    std::string_view body = r.body_view();
    if (stream) {
        if (context.version_minor >= 1) {
            out.append("Transfer-Encoding: chunked\r\n");
            framing.chunked = true;
        } else {
            framing.closing = true;  // HTTP/1.0: the body ends when the connection does
        }
    } else if (body_allowed) {
        char num[24];
        auto [end, ec] = std::to_chars(num, num + sizeof num, r.body_size());
        out.append("Content-Length: ");
        out.append(num, static_cast<std::size_t>(end - num));
        out.append("\r\n");
    }
    if (r.is_upgrade()) {
        out.append("Connection: Upgrade\r\n");  // a 101: the connection now speaks the new protocol
    } else if (framing.closing) {
        out.append("Connection: close\r\n");
    } else if (context.version_minor == 0) {
        out.append("Connection: keep-alive\r\n");
    }
    out.append("\r\n");
    if (!stream && body_allowed && !context.head_request) {
        out.append(body);
    }
    return framing;
}

}  // namespace keel::http
