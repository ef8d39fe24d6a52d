#include "serializer.hpp"

#include <keel/http/status.hpp>

#include <array>
#include <charconv>
#include <cstring>

namespace keel::server {

namespace {

// The response is gathered as views first, then copied with one growth of `out`: one size
// check and no strlen per piece, on the path every response takes.
class Pieces {
  public:
    void add(std::string_view s) noexcept {
        views_[count_++] = s;
        bytes_ += s.size();
    }
    void append_to(std::string& out) const {
        std::size_t at = out.size();
        out.resize(at + bytes_);
        char* p = out.data() + at;
        for (std::size_t i = 0; i < count_; ++i) {
            std::memcpy(p, views_[i].data(), views_[i].size());
            p += views_[i].size();
        }
    }

  private:
    std::array<std::string_view, 12> views_;
    std::size_t count_ = 0;
    std::size_t bytes_ = 0;
};

}  // namespace

Framing serialize_response(std::string& out, http::Response& r, const HeadContext& context, bool stream) {
    using namespace std::string_view_literals;
    int status = r.status();
    if (status < 100 || status > 999) {
        status = 500;
    }
    char code[13] = {'H',
                     'T',
                     'T',
                     'P',
                     '/',
                     '1',
                     '.',
                     '1',
                     ' ',
                     static_cast<char>('0' + status / 100),
                     static_cast<char>('0' + status / 10 % 10),
                     static_cast<char>('0' + status % 10),
                     ' '};
    Pieces head;
    head.add({code, sizeof code});
    head.add(http::reason_phrase(status));
    head.add("\r\n"sv);
    head.add(r.header_block());
    head.add(context.date_line);

    Framing framing;
    framing.closing = !context.keep_alive || r.wants_close() || context.must_close;
    bool body_allowed = http::status_allows_body(status);
    char length[48] = "Content-Length: ";
    if (stream) {
        if (context.version_minor >= 1) {
            head.add("Transfer-Encoding: chunked\r\n"sv);
            framing.chunked = true;
        } else {
            framing.closing = true;  // HTTP/1.0: the body ends when the connection does
        }
    } else if (body_allowed) {
        constexpr std::size_t kPrefix = sizeof "Content-Length: " - 1;
        auto [end, ec] = std::to_chars(length + kPrefix, length + sizeof length - 2, r.body_size());
        end[0] = '\r';
        end[1] = '\n';
        head.add({length, static_cast<std::size_t>(end + 2 - length)});
    }
    if (r.is_upgrade()) {
        head.add("Connection: Upgrade\r\n"sv);  // a 101: the connection now speaks the new protocol
    } else if (framing.closing) {
        head.add("Connection: close\r\n"sv);
    } else if (context.version_minor == 0) {
        head.add("Connection: keep-alive\r\n"sv);
    }
    head.add("\r\n"sv);
    if (!stream && body_allowed && !context.head_request) {
        head.add(r.body_view());
    }
    head.append_to(out);
    return framing;
}

}  // namespace keel::server
