#include <keel/http/detail/string_recycler.hpp>
#include <keel/http/response.hpp>

#include <keel/http/detail/byte_classes.hpp>

#include <unistd.h>
#include <cstring>

namespace keel::http {
namespace {

using detail::iequals;
using detail::is_token;

// Calls fn(name, value, line_begin, line_end) for each serialized header line; stops when fn
// returns false.
template <class F>
void for_each_line(std::string_view block, F fn) {
    std::size_t pos = 0;
    while (pos < block.size()) {
        std::size_t eol = block.find("\r\n", pos);
        if (eol == std::string_view::npos) {
            return;
        }
        std::string_view line = block.substr(pos, eol - pos);
        std::size_t colon = line.find(':');
        std::string_view name = line.substr(0, colon);
        std::string_view value = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string_view{};
        if (!fn(name, value, pos, eol + 2)) {
            return;
        }
        pos = eol + 2;
    }
}

// Moves a short string (kept inside itself) into a recycled buffer with room to grow.
void take_recycled(std::string& s) {
    std::string roomy = detail::acquire_string();
    roomy.append(s);
    s.swap(roomy);
}

}  // namespace

Response::Response(int status) : status_(status) {}

Response::~Response() {
    detail::release_string(std::move(headers_));
    detail::release_string(std::move(body_));
    if (file_.fd >= 0) {
        ::close(file_.fd);
    }
}

Response::Response(Response&& o) noexcept
    : status_(o.status_),
      close_(o.close_),
      end_on_shutdown_(o.end_on_shutdown_),
      headers_(std::move(o.headers_)),
      body_(std::move(o.body_)),
      static_body_(o.static_body_),
      stream_(std::move(o.stream_)),
      file_(o.release_file()),
      upgrade_(std::move(o.upgrade_)) {}

Response& Response::operator=(Response&& o) noexcept {
    if (this != &o) {
        detail::release_string(std::move(headers_));
        detail::release_string(std::move(body_));
        status_ = o.status_;
        close_ = o.close_;
        end_on_shutdown_ = o.end_on_shutdown_;
        headers_ = std::move(o.headers_);
        body_ = std::move(o.body_);
        static_body_ = o.static_body_;
        stream_ = std::move(o.stream_);
        if (file_.fd >= 0) {
            ::close(file_.fd);
        }
        file_ = o.release_file();
        upgrade_ = std::move(o.upgrade_);
    }
    return *this;
}

Response Response::upgrade(UpgradeHandler handler) {
    Response r(101);
    r.upgrade_ = std::move(handler);
    return r;
}

Response& Response::file_body(int fd, std::uint64_t offset, std::uint64_t length) noexcept {
    if (file_.fd >= 0) {
        ::close(file_.fd);
    }
    file_ = {fd, offset, length};
    return *this;
}

Response Response::text(std::string_view body, int status) {
    Response r(status);
    r.header("Content-Type", "text/plain; charset=utf-8");
    r.body(body);
    return r;
}

Response Response::json(std::string_view json, int status) {
    Response r(status);
    r.header("Content-Type", "application/json");
    r.body(json);
    return r;
}

Response Response::stream(std::string_view content_type, StreamBody producer, int status) {
    Response r(status);
    r.header("Content-Type", content_type);
    r.stream_ = std::move(producer);
    return r;
}

Response& Response::header(std::string_view name, std::string_view value) & {
    if (!is_token(name)) {
        return *this;
    }
    // The server owns framing and the date; Connection: close becomes a request to close.
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Date")) {
        return *this;
    }
    if (iequals(name, "Connection")) {
        if (value.find("close") != std::string_view::npos) {
            close_ = true;
        }
        return *this;
    }
    if (headers_.capacity() <= 15) {
        take_recycled(headers_);
    }
    std::size_t at = headers_.size();
    headers_.resize(at + name.size() + 2 + value.size() + 2);
    char* p = headers_.data() + at;
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    for (char c : value) {
        *p++ = c == '\r' || c == '\n' || c == '\0' ? ' ' : c;
    }
    *p++ = '\r';
    *p = '\n';
    return *this;
}

Response& Response::remove_header(std::string_view name) {
    std::string kept;
    bool removed = false;
    for_each_line(headers_, [&](std::string_view n, std::string_view, std::size_t b, std::size_t e) {
        if (iequals(n, name)) {
            removed = true;
        } else {
            kept.append(headers_, b, e - b);
        }
        return true;
    });
    if (removed) {
        headers_.swap(kept);
    }
    return *this;
}

Response& Response::set_header(std::string_view name, std::string_view value) & {
    remove_header(name);
    return header(name, value);
}

std::optional<std::string_view> Response::header_value(std::string_view name) const noexcept {
    std::optional<std::string_view> found;
    for_each_line(headers_, [&](std::string_view n, std::string_view v, std::size_t, std::size_t) {
        if (iequals(n, name)) {
            found = v;
            return false;
        }
        return true;
    });
    return found;
}

Response& Response::body(std::string_view bytes) {
    static_body_.reset();
    if (bytes.size() > 15 && body_.capacity() <= 15) {
        body_ = detail::acquire_string();  // a short body stays inside the string itself
    }
    body_.assign(bytes.data(), bytes.size());
    return *this;
}

Response& Response::static_body(std::string_view bytes) noexcept {
    static_body_ = bytes;
    return *this;
}

std::string& Response::body_buffer() {
    static_body_.reset();
    if (body_.capacity() <= 15) {
        take_recycled(body_);
    }
    return body_;
}

}  // namespace keel::http
