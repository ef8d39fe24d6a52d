#include <keel/http/problem.hpp>
#include <keel/middleware/basics.hpp>

#include <strings.h>

namespace keel::mw {

http::Middleware heartbeat(std::string path) {
    return [path](http::Handler next) {
        return http::wrap(
            std::move(next),
            [path](http::Request& req) -> std::optional<http::Response> {
                if ((req.method() == http::Method::get || req.method() == http::Method::head) && req.path() == path) {
                    return http::Response::text(".");
                }
                return std::nullopt;
            },
            nullptr);
    };
}

http::Middleware no_cache() {
    return [](http::Handler next) {
        return http::wrap(std::move(next), nullptr, [](http::Request&, http::Response& r) {
            r.set_header("Cache-Control", "no-cache, no-store, no-transform, must-revalidate, private, max-age=0");
            r.set_header("Pragma", "no-cache");
            r.set_header("Expires", "0");
            r.remove_header("ETag");
            r.remove_header("Last-Modified");
        });
    };
}

http::Middleware security_headers(SecurityHeadersOptions o) {
    std::string hsts;
    if (o.hsts_max_age.count() > 0) {
        hsts = "max-age=" + std::to_string(o.hsts_max_age.count()) +
               (o.hsts_include_subdomains ? "; includeSubDomains" : "");
    }
    return [o, hsts](http::Handler next) {
        return http::wrap(std::move(next), nullptr, [o, hsts](http::Request&, http::Response& r) {
            r.set_header("X-Content-Type-Options", "nosniff");
            r.set_header("X-Frame-Options", o.frame_options);
            r.set_header("Referrer-Policy", o.referrer_policy);
            if (!r.header_value("Content-Security-Policy")) {
                r.header("Content-Security-Policy", o.content_security_policy);
            }
            if (!hsts.empty()) {
                r.set_header("Strict-Transport-Security", hsts);
            }
        });
    };
}

http::Middleware body_limit(std::size_t max_bytes) {
    return [max_bytes](http::Handler next) {
        return http::wrap(
            std::move(next),
            [max_bytes](http::Request& req) -> std::optional<http::Response> {
                if (req.body().size() > max_bytes) {
                    return http::problem(413, "the request body is larger than " + std::to_string(max_bytes) + " bytes",
                                         req.path());
                }
                return std::nullopt;
            },
            nullptr);
    };
}

http::Middleware allow_content_type(std::vector<std::string> media_types) {
    return [types = std::move(media_types)](http::Handler next) {
        return http::wrap(
            std::move(next),
            [types](http::Request& req) -> std::optional<http::Response> {
                bool has_body = !req.body().empty() || req.header("Content-Length").value_or("0") != "0" ||
                                req.header("Transfer-Encoding").has_value();
                if (!has_body) {
                    return std::nullopt;
                }
                std::string_view ct = req.header("Content-Type").value_or("");
                ct = ct.substr(0, ct.find(';'));
                while (!ct.empty() && ct.back() == ' ') {
                    ct.remove_suffix(1);
                }
                for (const std::string& t : types) {
                    if (t.size() == ct.size() && ::strncasecmp(t.data(), ct.data(), ct.size()) == 0) {
                        return std::nullopt;
                    }
                }
                std::string allowed;
                for (const std::string& t : types) {
                    allowed += (allowed.empty() ? "" : ", ") + t;
                }
                return http::problem(415, "Content-Type must be one of: " + allowed, req.path());
            },
            nullptr);
    };
}

http::Middleware strip_slashes() {
    return [](http::Handler next) {
        return http::wrap(
            std::move(next),
            [](http::Request& req) -> std::optional<http::Response> {
                std::string_view p = req.path();
                while (p.size() > 1 && p.back() == '/') {
                    p.remove_suffix(1);
                }
                req.set_path(p);  // a prefix of the original path: stays valid
                return std::nullopt;
            },
            nullptr);
    };
}

namespace {
// RFC 3986 §5.2.4 remove_dot_segments, plus collapsing repeated slashes.
std::string cleaned(std::string_view path) {
    std::vector<std::string_view> out;
    bool trailing = path.size() > 1 && path.back() == '/';
    std::size_t pos = 0;
    while (pos < path.size()) {
        std::size_t slash = path.find('/', pos);
        std::string_view seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        if (seg == "..") {
            if (!out.empty()) {
                out.pop_back();
            }
        } else if (!seg.empty() && seg != ".") {
            out.push_back(seg);
        }
        if (slash == std::string_view::npos) {
            trailing = trailing || seg == "." || seg == "..";
            break;
        }
        pos = slash + 1;
    }
    std::string result;
    for (std::string_view s : out) {
        result += "/";
        result += s;
    }
    if (result.empty() || (trailing && !out.empty())) {
        result += "/";
    }
    return result;
}
}  // namespace

http::Middleware clean_path() {
    return [](http::Handler next) {
        return http::wrap(
            std::move(next),
            [](http::Request& req) -> std::optional<http::Response> {
                std::string_view p = req.path();
                bool dirty = p.find("//") != std::string_view::npos || p.find("/./") != std::string_view::npos ||
                             p.find("/../") != std::string_view::npos || p.ends_with("/.") || p.ends_with("/..");
                if (!dirty) {
                    return std::nullopt;
                }
                std::string target = cleaned(p);
                if (!req.query().empty()) {
                    target += "?";
                    target += req.query();
                }
                http::Response r(301);
                r.header("Location", target);
                return r;
            },
            nullptr);
    };
}

}  // namespace keel::mw
