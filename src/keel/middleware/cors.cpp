#include <keel/middleware/cors.hpp>

#include <strings.h>

namespace keel::mw {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) {
        s += (s.empty() ? "" : ", ") + x;
    }
    return s;
}

bool origin_allowed(const CorsOptions& o, std::string_view origin) {
    for (const std::string& a : o.allowed_origins) {
        if (a == "*" || iequals(a, origin)) {
            return true;
        }
        std::size_t star = a.find("://*.");
        if (star != std::string::npos) {
            // "https://*.example.com": same scheme, exactly one more label in front.
            std::string_view scheme = std::string_view(a).substr(0, star + 3);
            std::string_view suffix = std::string_view(a).substr(star + 4);  // ".example.com"
            if (origin.size() > scheme.size() + suffix.size() && iequals(origin.substr(0, scheme.size()), scheme) &&
                iequals(origin.substr(origin.size() - suffix.size()), suffix)) {
                std::string_view label = origin.substr(scheme.size(), origin.size() - scheme.size() - suffix.size());
                if (!label.empty() && label.find_first_of("./:") == std::string_view::npos) {
                    return true;
                }
            }
        }
    }
    return false;
}

bool listed(const std::vector<std::string>& list, std::string_view item) {
    for (const auto& x : list) {
        if (iequals(x, item)) {
            return true;
        }
    }
    return false;
}

}  // namespace

http::Middleware cors(CorsOptions o) {
    bool any_origin = listed(o.allowed_origins, "*");
    std::string methods = join(o.allowed_methods);
    std::string exposed = join(o.exposed_headers);
    std::string max_age = std::to_string(o.max_age.count());
    return [o, any_origin, methods, exposed, max_age](http::Handler next) -> http::Handler {
        auto allow_origin_value = [o, any_origin](std::string_view origin) -> std::string {
            return any_origin && !o.allow_credentials ? std::string("*") : std::string(origin);
        };
        return http::wrap(
            std::move(next),
            [o, methods, max_age, allow_origin_value](http::Request& req) -> std::optional<http::Response> {
                auto origin = req.header("Origin");
                auto request_method = req.header("Access-Control-Request-Method");
                if (req.method() != http::Method::options || !origin || !request_method) {
                    return std::nullopt;  // not a preflight
                }
                http::Response r(204);
                r.header("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
                if (!origin_allowed(o, *origin) || !listed(o.allowed_methods, *request_method)) {
                    return r;  // no CORS headers: the browser refuses
                }
                // Every requested header must be allowed.
                std::string_view wanted = req.header("Access-Control-Request-Headers").value_or("");
                while (!wanted.empty()) {
                    std::size_t comma = wanted.find(',');
                    std::string_view h = wanted.substr(0, comma);
                    while (!h.empty() && h.front() == ' ') {
                        h.remove_prefix(1);
                    }
                    while (!h.empty() && h.back() == ' ') {
                        h.remove_suffix(1);
                    }
                    if (!h.empty() && !listed(o.allowed_headers, h)) {
                        return r;
                    }
                    wanted = comma == std::string_view::npos ? std::string_view{} : wanted.substr(comma + 1);
                }
                r.header("Access-Control-Allow-Origin", allow_origin_value(*origin));
                r.header("Access-Control-Allow-Methods", methods);
                if (auto h = req.header("Access-Control-Request-Headers"); h && !h->empty()) {
                    r.header("Access-Control-Allow-Headers", *h);
                }
                if (o.allow_credentials) {
                    r.header("Access-Control-Allow-Credentials", "true");
                }
                r.header("Access-Control-Max-Age", max_age);
                return r;
            },
            [o, exposed, allow_origin_value](http::Request& req, http::Response& res) {
                auto vary = res.header_value("Vary");
                if (!vary) {
                    res.header("Vary", "Origin");
                } else if (vary->find("Origin") == std::string_view::npos) {
                    res.set_header("Vary", std::string(*vary) + ", Origin");
                }
                auto origin = req.header("Origin");
                if (!origin || !origin_allowed(o, *origin)) {
                    return;
                }
                res.set_header("Access-Control-Allow-Origin", allow_origin_value(*origin));
                if (o.allow_credentials) {
                    res.set_header("Access-Control-Allow-Credentials", "true");
                }
                if (!exposed.empty()) {
                    res.set_header("Access-Control-Expose-Headers", exposed);
                }
            });
    };
}

}  // namespace keel::mw
