#include <keel/web/cookie.hpp>

#include <keel/http/request.hpp>
#include <keel/http/response.hpp>

#include <keel/http/detail/byte_classes.hpp>

#include <stdexcept>

namespace keel::web {
namespace {

using http::detail::iequals;
using http::detail::is_token;
using http::detail::trim_ows;

// RFC 6265 §4.1.1 cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E.
bool is_cookie_octet(unsigned char c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) || (c >= 0x3C && c <= 0x5B) ||
           (c >= 0x5D && c <= 0x7E);
}

// Path and Domain attribute values: any CHAR except controls and ';'.
bool is_attribute_text(std::string_view s) {
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7F || c == ';' || c >= 0x80) {
            return false;
        }
    }
    return true;
}

[[noreturn]] void invalid(std::string what) {
    throw std::invalid_argument("Set-Cookie: " + what);
}

}  // namespace

std::vector<Cookie> parse_cookies(std::string_view header) {
    std::vector<Cookie> out;
    while (!header.empty()) {
        std::size_t semi = header.find(';');
        std::string_view pair = trim_ows(header.substr(0, semi));
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
        std::size_t eq = pair.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        std::string_view name = trim_ows(pair.substr(0, eq));
        std::string_view value = trim_ows(pair.substr(eq + 1));
        if (name.empty()) {
            continue;
        }
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        out.push_back({name, value});
    }
    return out;
}

std::optional<std::string_view> cookie(const http::Request& req, std::string_view name) {
    for (const http::Header& h : req.headers()) {
        if (!iequals(h.name, "cookie")) {
            continue;
        }
        for (const Cookie& c : parse_cookies(h.value)) {
            if (c.name == name) {
                return c.value;
            }
        }
    }
    return std::nullopt;
}

std::string format_set_cookie(const SetCookie& c) {
    if (!is_token(c.name)) {
        invalid("cookie name \"" + c.name + "\" is not an HTTP token");
    }
    for (unsigned char ch : c.value) {
        if (!is_cookie_octet(ch)) {
            invalid("cookie \"" + c.name + "\" has a byte RFC 6265 forbids in a value (0x" +
                    "0123456789ABCDEF"[ch >> 4] + "0123456789ABCDEF"[ch & 15] + ")");
        }
    }
    if (!is_attribute_text(c.path) || !is_attribute_text(c.domain)) {
        invalid("cookie \"" + c.name + "\" has a control byte or ';' in its Path or Domain");
    }
    if ((c.same_site == SameSite::none || c.partitioned) && !c.secure) {
        invalid("cookie \"" + c.name + "\" with SameSite=None or Partitioned must be Secure");
    }
    std::string out;
    out.reserve(c.name.size() + c.value.size() + c.path.size() + 64);
    out += c.name;
    out += '=';
    out += c.value;
    if (!c.path.empty()) {
        out += "; Path=";
        out += c.path;
    }
    if (!c.domain.empty()) {
        out += "; Domain=";
        out += c.domain;
    }
    if (c.max_age) {
        out += "; Max-Age=";
        out += std::to_string(c.max_age->count() < 0 ? 0 : c.max_age->count());
    }
    if (c.secure) {
        out += "; Secure";
    }
    if (c.http_only) {
        out += "; HttpOnly";
    }
    switch (c.same_site) {
        case SameSite::lax:
            out += "; SameSite=Lax";
            break;
        case SameSite::strict:
            out += "; SameSite=Strict";
            break;
        case SameSite::none:
            out += "; SameSite=None";
            break;
        case SameSite::unset:
            break;
    }
    if (c.partitioned) {
        out += "; Partitioned";
    }
    return out;
}

http::Response& set_cookie(http::Response& res, const SetCookie& c) {
    return res.header("Set-Cookie", format_set_cookie(c));
}

http::Response& clear_cookie(http::Response& res, std::string_view name, std::string_view path,
                             std::string_view domain) {
    return set_cookie(res, SetCookie{.name = std::string(name),
                                     .path = std::string(path),
                                     .domain = std::string(domain),
                                     .max_age = std::chrono::seconds(0)});
}

}  // namespace keel::web
