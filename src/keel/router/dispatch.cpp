// Answering a request from the frozen table, in named steps: split and check the path, find
// the route, or else answer OPTIONS / 405 for a path that exists with other methods, redirect
// to the path with(out) its trailing slash when that one exists, or answer 404.
#include <keel/core/percent.hpp>
#include <keel/http/problem.hpp>

#include "tree.hpp"

#include <optional>

namespace keel::router {
namespace {

using detail::Match;
using detail::Matcher;
using detail::Table;

/// A path cut into segments at '/', after the leading one: `decoded` holds them, each segment
/// is a view into it, with its offset (catch-all parameters take the rest from there).
struct SplitPath {
    std::string_view decoded;
    std::vector<std::string_view> segs;
    std::vector<std::size_t> offsets;

    void split(std::string_view path_without_slash) {
        decoded = path_without_slash;
        segs.clear();
        offsets.clear();
        if (decoded.empty()) {
            return;  // "/"
        }
        for (std::size_t start = 0;;) {
            std::size_t slash = decoded.find('/', start);
            offsets.push_back(start);
            segs.push_back(
                decoded.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
            if (slash == std::string_view::npos) {
                return;
            }
            start = slash + 1;
        }
    }
};

// Percent-decodes the request's path into its scratch buffer when it has escapes, then splits
// it. An encoded '/' stays inside its segment (marked NUL until the route is chosen); an
// encoded NUL is refused: no path has a use for it, and NUL is that marker. False on a bad
// escape or an encoded NUL.
bool split_request_path(http::Request& req, SplitPath& out) {
    std::string_view path = req.path();
    std::string_view decoded = path.substr(1);
    if (path.find('%') != std::string_view::npos) {
        std::string& buf = req.scratch();
        buf.clear();
        buf.reserve(path.size());
        for (std::size_t i = 1; i < path.size(); ++i) {
            if (path[i] != '%') {
                buf.push_back(path[i]);
                continue;
            }
            if (i + 2 >= path.size() || hex_digit(path[i + 1]) < 0 || hex_digit(path[i + 2]) < 0) {
                return false;
            }
            char c = static_cast<char>(hex_digit(path[i + 1]) * 16 + hex_digit(path[i + 2]));
            if (c == '\0') {
                return false;
            }
            buf.push_back(c == '/' ? '\0' : c);
            i += 2;
        }
        decoded = buf;
    }
    out.split(decoded);
    return true;
}

std::optional<http::Response> refuse_bad_path(http::Request& req, SplitPath& path) {
    if (!split_request_path(req, path)) {
        return http::problem(400, "invalid percent-encoding in the path (or an encoded NUL)", req.path());
    }
    for (std::string_view s : path.segs) {
        if (s == "." || s == "..") {
            return http::problem(400, "dot segments are not allowed in the path", req.path());
        }
    }
    return std::nullopt;
}

// The matched route runs, with encoded slashes put back into its parameters.
http::Outcome run_route(http::Request& req, const SplitPath& path, const Match& m) {
    if (path.decoded.data() != req.path().data() + 1) {
        for (char& c : req.scratch()) {
            if (c == '\0') {
                c = '/';
            }
        }
    }
    req.set_route(m.endpoint->pattern);
    return m.handler->invoke(req);
}

// The path exists, not with this method: OPTIONS answers with Allow, others get 405.
http::Outcome answer_method_not_allowed(const Table& table, http::Request& req, const detail::Endpoint& e) {
    req.set_route(e.pattern);
    if (req.method() == http::Method::options) {
        http::Response r(204);
        r.header("Allow", e.allow);
        return r;
    }
    if (table.method_not_allowed) {
        return table.method_not_allowed.invoke(req);
    }
    http::Response r =
        http::problem(405, "method " + std::string(req.method_name()) + " is not allowed here", req.path());
    r.header("Allow", e.allow);
    return r;
}

// TrailingSlash::redirect: the same path with(out) its trailing slash, when that one has a
// route (301 for GET and HEAD, 308 otherwise so the method and body are kept).
std::optional<http::Response> redirect_trailing_slash(const Table& table, http::Request& req) {
    if (table.slash != TrailingSlash::redirect || req.path().empty() || req.path() == "/") {
        return std::nullopt;
    }
    std::string alt(req.path());
    if (alt.back() == '/') {
        alt.pop_back();
    } else {
        alt.push_back('/');
    }
    SplitPath alt_path;
    alt_path.split(std::string_view(alt).substr(1));
    Match m;
    bool found = Matcher{alt_path.segs, req, alt_path.offsets, alt_path.decoded}.walk(table.root, 0, m) || m.path_only;
    req.params().clear();
    if (!found) {
        return std::nullopt;
    }
    bool safe = req.method() == http::Method::get || req.method() == http::Method::head;
    http::Response r(safe ? 301 : 308);
    if (!req.query().empty()) {
        alt += "?";
        alt += req.query();
    }
    r.header("Location", alt);
    return r;
}

http::Outcome answer_not_found(const Table& table, http::Request& req) {
    if (table.not_found) {
        return table.not_found.invoke(req);
    }
    return http::problem(404, "no route for " + std::string(req.method_name()) + " " + std::string(req.path()),
                         req.path());
}

}  // namespace

Handler Router::handler() {
    std::shared_ptr<detail::Table> table = table_;
    if (!table->frozen) {
        table->frozen = true;
        detail::compute_allow(table->root);
    }
    Handler dispatch = [table](http::Request& req) -> http::Outcome {
        thread_local SplitPath path;  // reused: no allocation per request once warm
        if (auto refused = refuse_bad_path(req, path)) {
            return std::move(*refused);
        }
        req.params().clear();
        Match m;
        if (Matcher{path.segs, req, path.offsets, path.decoded}.walk(table->root, 0, m)) {
            return run_route(req, path, m);
        }
        req.params().clear();
        if (m.path_only) {
            return answer_method_not_allowed(*table, req, *m.path_only);
        }
        if (auto redirect = redirect_trailing_slash(*table, req)) {
            return std::move(*redirect);
        }
        return answer_not_found(*table, req);
    };
    return chain(table->root_stack, std::move(dispatch));
}

}  // namespace keel::router
