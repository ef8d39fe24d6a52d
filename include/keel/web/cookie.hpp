#pragma once
/// Cookies (RFC 6265): reading the request's Cookie headers and building Set-Cookie.
///
///     auto theme = keel::web::cookie(req, "theme");                  // optional<string_view>
///     auto res = keel::Response::text("ok");
///     keel::web::set_cookie(res, {.name = "theme", .value = "dark", .max_age = std::chrono::days(30)});
///
/// Defaults are the safe ones: Path=/, HttpOnly, SameSite=Lax. A name that is not a token, a
/// value with bytes outside RFC 6265's cookie-octets (space, '"', ',', ';', '\\', controls), or
/// SameSite=None without Secure is a programming error: set_cookie throws std::invalid_argument
/// (the recoverer answers 500) rather than send a header a browser would drop or misread. Put
/// arbitrary text in a cookie through keel::web::CookieSigner (base64url) or percent-encoding.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::http {
class Request;
class Response;
}  // namespace keel::http

namespace keel::web {

struct Cookie {
    std::string_view name = {};
    std::string_view value = {};  ///< surrounding double quotes removed, otherwise as sent
};

/// The cookie-pairs of one Cookie header value ("a=1; b=2"). Pairs without '=' or with an
/// empty name are skipped, as browsers do.
std::vector<Cookie> parse_cookies(std::string_view header_value);

/// The value of the first cookie called `name` in any of the request's Cookie headers (HTTP/2
/// clients may send one header per cookie).
std::optional<std::string_view> cookie(const http::Request& req, std::string_view name);

enum class SameSite { lax, strict, none, unset };

struct SetCookie {
    std::string name;
    std::string value = {};
    std::string path = "/";
    std::string domain = {};                           ///< empty: host-only cookie
    std::optional<std::chrono::seconds> max_age = {};  ///< none: a session cookie; 0: delete now
    bool secure = false;
    bool http_only = true;
    SameSite same_site = SameSite::lax;
    bool partitioned = false;  ///< CHIPS; requires secure
};

/// The Set-Cookie field value for `c` (throws std::invalid_argument, see the file comment).
std::string format_set_cookie(const SetCookie& c);

/// Appends a Set-Cookie header for `c` to `res`.
http::Response& set_cookie(http::Response& res, const SetCookie& c);

/// Appends a Set-Cookie that deletes cookie `name` (same path and domain as when it was set).
http::Response& clear_cookie(http::Response& res, std::string_view name, std::string_view path = "/",
                             std::string_view domain = {});

}  // namespace keel::web
