#include <keel/core/percent.hpp>
#include <keel/http/problem.hpp>
#include <keel/router/router.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <regex>
#include <stdexcept>

namespace keel::router {
namespace detail {

constexpr std::size_t kKnownMethods = 9;  // http::Method values before `other`

struct Endpoint {
    std::string pattern;  // the route template, e.g. "/v1/links/{slug}"
    std::array<Handler, kKnownMethods> by_method;
    std::vector<std::pair<std::string, Handler>> extension;  // methods outside http::Method
    Handler any;                                              // registered with "*"
    std::string allow;                                        // computed when frozen

    const Handler* find(const http::Request& req) const {
        http::Method m = req.method();
        if (m != http::Method::other) {
            const Handler& h = by_method[static_cast<std::size_t>(m)];
            if (h) {
                return &h;
            }
            if (m == http::Method::head && by_method[static_cast<std::size_t>(http::Method::get)]) {
                return &by_method[static_cast<std::size_t>(http::Method::get)];  // automatic HEAD
            }
        } else {
            for (const auto& [name, h] : extension) {
                if (name == req.method_name()) {
                    return &h;
                }
            }
        }
        return any ? &any : nullptr;
    }
};

struct Node;

struct ParamChild {
    std::string name;
    std::string regex_source;  // empty: any non-empty segment
    std::optional<std::regex> regex;
    std::string first_pattern;  // for conflict messages
    std::unique_ptr<Node> node;
};

struct Node {
    std::vector<std::pair<std::string, std::unique_ptr<Node>>> statics;
    std::vector<ParamChild> params;  // constrained ones first, the plain one (if any) last
    std::string catch_all_name;
    std::unique_ptr<Endpoint> catch_all;  // `{name...}`: matches the rest, here
    std::unique_ptr<Endpoint> endpoint;   // a route ending at this node

    Node* static_child(std::string_view seg) const {
        for (const auto& [s, n] : statics) {
            if (s == seg) {
                return n.get();
            }
        }
        return nullptr;
    }
};

struct Table {
    Node root;
    Handler not_found;
    Handler method_not_allowed;
    TrailingSlash slash = TrailingSlash::strict;
    std::vector<Middleware> root_stack;
    bool frozen = false;
};

}  // namespace detail

namespace {

using detail::Endpoint;
using detail::Node;
using detail::ParamChild;

[[noreturn]] void setup_error(const std::string& msg) { throw std::invalid_argument("keel: router: " + msg); }

struct Segment {
    enum Kind { literal, param, catch_all } kind;
    std::string text;   // literal text or parameter name
    std::string regex;  // for constrained parameters
};

bool valid_name(std::string_view n) {
    if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) {
        return false;
    }
    return std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::vector<Segment> parse_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern[0] != '/') {
        setup_error("pattern \"" + std::string(pattern) + "\" must start with '/'");
    }
    std::vector<Segment> segs;
    std::vector<std::string> names;
    std::string_view rest = pattern.substr(1);
    if (rest.empty()) {
        return segs;
    }
    while (true) {
        std::size_t slash = std::string::npos;
        // A regex may contain '/', so find the segment end outside braces.
        int depth = 0;
        for (std::size_t i = 0; i < rest.size(); ++i) {
            if (rest[i] == '{') {
                ++depth;
            } else if (rest[i] == '}') {
                --depth;
            } else if (rest[i] == '/' && depth == 0) {
                slash = i;
                break;
            }
        }
        std::string_view seg = rest.substr(0, slash);
        bool last = slash == std::string::npos;
        if (!segs.empty() && segs.back().kind == Segment::catch_all) {
            setup_error("catch-all must be the last segment in \"" + std::string(pattern) + "\"");
        }
        if (seg.empty() && !last) {
            setup_error("empty segment in \"" + std::string(pattern) + "\"");
        }
        if (!seg.empty() && seg.front() == '{') {
            if (seg.back() != '}') {
                setup_error("parameters must be whole segments in \"" + std::string(pattern) + "\"");
            }
            std::string_view inner = seg.substr(1, seg.size() - 2);
            Segment s{Segment::param, {}, {}};
            std::size_t colon = inner.find(':');
            if (colon != std::string_view::npos) {
                s.text = std::string(inner.substr(0, colon));
                s.regex = std::string(inner.substr(colon + 1));
                if (s.regex.empty()) {
                    setup_error("empty regex in \"" + std::string(pattern) + "\"");
                }
            } else if (inner.size() > 3 && inner.substr(inner.size() - 3) == "...") {
                s.kind = Segment::catch_all;
                s.text = std::string(inner.substr(0, inner.size() - 3));
            } else {
                s.text = std::string(inner);
            }
            if (!valid_name(s.text)) {
                setup_error("invalid parameter name \"" + s.text + "\" in \"" + std::string(pattern) + "\"");
            }
            if (std::find(names.begin(), names.end(), s.text) != names.end()) {
                setup_error("parameter \"" + s.text + "\" appears twice in \"" + std::string(pattern) + "\"");
            }
            names.push_back(s.text);
            segs.push_back(std::move(s));
        } else {
            if (seg.find_first_of("{}") != std::string_view::npos) {
                setup_error("parameters must be whole segments in \"" + std::string(pattern) + "\"");
            }
            segs.push_back({Segment::literal, std::string(seg), {}});
        }
        if (last) {
            break;
        }
        rest = rest.substr(slash + 1);
    }
    return segs;
}

Endpoint& insert(Node& root, std::string_view pattern, const std::vector<Segment>& segs) {
    Node* n = &root;
    for (const Segment& s : segs) {
        switch (s.kind) {
            case Segment::literal: {
                Node* child = n->static_child(s.text);
                if (!child) {
                    n->statics.emplace_back(s.text, std::make_unique<Node>());
                    child = n->statics.back().second.get();
                }
                n = child;
                break;
            }
            case Segment::param: {
                auto it = std::find_if(n->params.begin(), n->params.end(),
                                       [&](const ParamChild& p) { return p.regex_source == s.regex; });
                if (it != n->params.end()) {
                    if (it->name != s.text) {
                        setup_error("\"" + std::string(pattern) + "\" conflicts with \"" + it->first_pattern +
                                    "\": same position, different parameter names");
                    }
                    n = it->node.get();
                    break;
                }
                ParamChild p;
                p.name = s.text;
                p.regex_source = s.regex;
                p.first_pattern = std::string(pattern);
                if (!s.regex.empty()) {
                    try {
                        p.regex.emplace(s.regex, std::regex::ECMAScript | std::regex::optimize);
                    } catch (const std::regex_error& e) {
                        setup_error("invalid regex \"" + s.regex + "\" in \"" + std::string(pattern) + "\": " + e.what());
                    }
                }
                p.node = std::make_unique<Node>();
                Node* child = p.node.get();
                // Constrained parameters are tried before the plain one.
                auto pos = s.regex.empty() ? n->params.end()
                                           : std::find_if(n->params.begin(), n->params.end(),
                                                          [](const ParamChild& c) { return c.regex_source.empty(); });
                n->params.insert(pos, std::move(p));
                n = child;
                break;
            }
            case Segment::catch_all:
                if (n->catch_all) {
                    if (n->catch_all_name != s.text) {
                        setup_error("\"" + std::string(pattern) + "\" conflicts with \"" + n->catch_all->pattern +
                                    "\": same position, different catch-all names");
                    }
                } else {
                    n->catch_all_name = s.text;
                    n->catch_all = std::make_unique<Endpoint>();
                    n->catch_all->pattern = std::string(pattern);
                }
                return *n->catch_all;
        }
    }
    if (!n->endpoint) {
        n->endpoint = std::make_unique<Endpoint>();
        n->endpoint->pattern = std::string(pattern);
    }
    return *n->endpoint;
}

void compute_allow(Node& n) {
    for (Endpoint* e : {n.endpoint.get(), n.catch_all.get()}) {
        if (!e) {
            continue;
        }
        std::string allow;
        auto add = [&](std::string_view m) {
            if (!allow.empty()) {
                allow += ", ";
            }
            allow += m;
        };
        bool has_get = static_cast<bool>(e->by_method[static_cast<std::size_t>(http::Method::get)]);
        for (std::size_t i = 0; i < detail::kKnownMethods; ++i) {
            auto m = static_cast<http::Method>(i);
            if (e->by_method[i] || (m == http::Method::head && has_get) || m == http::Method::options ||
                (e->any && m != http::Method::connect && m != http::Method::trace)) {
                add(http::to_string(m));
            }
        }
        for (const auto& [name, h] : e->extension) {
            add(name);
        }
        e->allow = std::move(allow);
    }
    for (auto& [s, child] : n.statics) {
        compute_allow(*child);
    }
    for (auto& p : n.params) {
        compute_allow(*p.node);
    }
}

// --------------------------------------------------------------------------- matching

struct Match {
    const Endpoint* endpoint = nullptr;  // matched path and method
    const Handler* handler = nullptr;
    const Endpoint* path_only = nullptr;  // first endpoint whose path matched (for 405/OPTIONS)
};

struct Matcher {
    const std::vector<std::string_view>& segs;
    http::Request& req;
    const std::vector<std::size_t>& seg_offsets;
    std::string_view decoded_path;

    bool accept(const Endpoint& e, Match& m) {
        if (const Handler* h = e.find(req)) {
            m.endpoint = &e;
            m.handler = h;
            return true;
        }
        if (!m.path_only) {
            m.path_only = &e;
        }
        return false;
    }

    bool walk(const Node& n, std::size_t i, Match& m) {
        auto& params = req.params();
        if (i == segs.size()) {
            // `{rest...}` needs its slash: "/files/" matches "/files/{rest...}", "/files" does not.
            return n.endpoint && accept(*n.endpoint, m);
        }
        std::string_view seg = segs[i];
        if (const Node* child = n.static_child(seg)) {
            if (walk(*child, i + 1, m)) {
                return true;
            }
        }
        if (!seg.empty()) {
            for (const ParamChild& p : n.params) {
                if (p.regex && !std::regex_match(seg.begin(), seg.end(), *p.regex)) {
                    continue;
                }
                params.push_back({p.name, seg});
                if (walk(*p.node, i + 1, m)) {
                    return true;
                }
                params.pop_back();
            }
        }
        if (n.catch_all) {
            params.push_back({n.catch_all_name, decoded_path.substr(seg_offsets[i])});
            if (accept(*n.catch_all, m)) {
                return true;
            }
            params.pop_back();
        }
        return false;
    }
};

// Splits the path into decoded segments. Views point into the path itself, or into the
// request's scratch buffer when something was percent-encoded. False on bad encoding, and on
// an encoded NUL: no path has a use for it, and NUL marks encoded slashes below.
bool split_path(http::Request& req, std::vector<std::string_view>& segs, std::vector<std::size_t>& offsets,
                std::string_view& decoded) {
    std::string_view path = req.path();
    decoded = path.substr(1);
    if (path.find('%') != std::string_view::npos) {
        std::string& buf = req.scratch();
        buf.clear();
        buf.reserve(path.size());
        for (std::size_t i = 1; i < path.size(); ++i) {
            if (path[i] == '%') {
                if (i + 2 >= path.size() || hex_digit(path[i + 1]) < 0 || hex_digit(path[i + 2]) < 0) {
                    return false;
                }
                char c = static_cast<char>(hex_digit(path[i + 1]) * 16 + hex_digit(path[i + 2]));
                if (c == '\0') {
                    return false;
                }
                // An encoded '/' stays inside its segment: mark it so splitting ignores it.
                buf.push_back(c == '/' ? '\0' : c);
                i += 2;
            } else {
                buf.push_back(path[i]);
            }
        }
        decoded = buf;
    }
    segs.clear();
    offsets.clear();
    if (decoded.empty()) {
        return true;  // "/"
    }
    std::size_t start = 0;
    for (;;) {
        std::size_t slash = decoded.find('/', start);
        offsets.push_back(start);
        segs.push_back(decoded.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    return true;
}

}  // namespace

// --------------------------------------------------------------------------- Router

Router::Router() : Router(std::make_shared<detail::Table>(), "", {}, true) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Router::Router(std::shared_ptr<detail::Table> table, std::string prefix, std::vector<Middleware> stack, bool root)
    : table_(std::move(table)), prefix_(std::move(prefix)), stack_(std::move(stack)), root_(root) {}

void Router::check_no_routes_yet(const char* what) const {
    if (table_->frozen) {
        setup_error(std::string(what) + " after handler() was taken");
    }
    if (routes_registered_ > 0) {
        setup_error(std::string(what) + " must come before the routes it applies to");
    }
}

Router& Router::handle(std::string_view method, std::string_view pattern, Handler handler) {
    if (table_->frozen) {
        setup_error("route \"" + std::string(pattern) + "\" added after handler() was taken");
    }
    if (!handler) {
        setup_error("empty handler for \"" + std::string(pattern) + "\"");
    }
    std::string full = prefix_;
    if (pattern != "/" || prefix_.empty()) {
        full += pattern;
    }
    std::vector<Segment> segs = parse_pattern(full);
    Endpoint& e = insert(table_->root, full, segs);
    Handler wrapped = chain(stack_, std::move(handler));
    auto duplicate = [&] { setup_error("duplicate route " + std::string(method) + " " + full); };
    if (method == "*") {
        if (e.any) {
            duplicate();
        }
        e.any = std::move(wrapped);
    } else {
        http::Method m = http::method_from_string(method);
        if (m == http::Method::other) {
            for (const auto& [name, h] : e.extension) {
                if (name == method) {
                    duplicate();
                }
            }
            if (method.empty() || method.find_first_of(" /{}") != std::string_view::npos) {
                setup_error("invalid method \"" + std::string(method) + "\"");
            }
            e.extension.emplace_back(std::string(method), std::move(wrapped));
        } else {
            Handler& slot = e.by_method[static_cast<std::size_t>(m)];
            if (slot) {
                duplicate();
            }
            slot = std::move(wrapped);
        }
    }
    ++routes_registered_;
    return *this;
}

Router& Router::use(Middleware mw) {
    check_no_routes_yet("use()");
    if (root_) {
        table_->root_stack.push_back(std::move(mw));
    } else {
        stack_.push_back(std::move(mw));
    }
    return *this;
}

Router Router::with(std::vector<Middleware> mws) {
    std::vector<Middleware> stack = stack_;
    stack.insert(stack.end(), mws.begin(), mws.end());
    return Router(table_, prefix_, std::move(stack), false);
}

Router& Router::group(std::string_view prefix, const std::function<void(Router&)>& build) {
    if (!prefix.empty() && (prefix[0] != '/' || prefix.back() == '/')) {
        setup_error("group prefix \"" + std::string(prefix) + "\" must start with '/' and not end with one");
    }
    Router sub(table_, prefix_ + std::string(prefix), stack_, false);
    build(sub);
    routes_registered_ += sub.routes_registered_;
    return *this;
}

Router& Router::mount(std::string_view prefix, Router&& sub) {
    if (prefix.empty() || prefix[0] != '/' || prefix.back() == '/') {
        setup_error("mount prefix \"" + std::string(prefix) + "\" must start with '/' and not end with one");
    }
    // Re-register sub's routes under the prefix: sub's root middleware wraps its routes, ours
    // (of this view) wrap those.
    std::vector<Middleware> sub_stack = sub.table_->root_stack;
    std::function<void(const Node&)> copy = [&](const Node& n) {
        for (const Endpoint* e : {n.endpoint.get(), n.catch_all.get()}) {
            if (!e) {
                continue;
            }
            std::string pattern = std::string(prefix) + (e->pattern == "/" ? "" : e->pattern);
            auto add = [&](std::string_view method, const Handler& h) {
                Router view(table_, "", stack_, false);
                view.handle(method, pattern, chain(sub_stack, h));
            };
            for (std::size_t i = 0; i < detail::kKnownMethods; ++i) {
                if (e->by_method[i]) {
                    add(http::to_string(static_cast<http::Method>(i)), e->by_method[i]);
                }
            }
            for (const auto& [name, h] : e->extension) {
                add(name, h);
            }
            if (e->any) {
                add("*", e->any);
            }
        }
        for (const auto& [s, child] : n.statics) {
            copy(*child);
        }
        for (const auto& p : n.params) {
            copy(*p.node);
        }
    };
    copy(sub.table_->root);
    ++routes_registered_;
    return *this;
}

Router& Router::not_found(Handler h) {
    table_->not_found = std::move(h);
    return *this;
}

Router& Router::method_not_allowed(Handler h) {
    table_->method_not_allowed = std::move(h);
    return *this;
}

Router& Router::trailing_slash(TrailingSlash policy) {
    table_->slash = policy;
    return *this;
}

Handler Router::handler() {
    std::shared_ptr<detail::Table> table = table_;
    if (!table->frozen) {
        table->frozen = true;
        compute_allow(table->root);
    }
    Handler dispatch = [table](http::Request& req) -> http::Outcome {
        thread_local std::vector<std::string_view> segs;
        thread_local std::vector<std::size_t> offsets;
        std::string_view decoded;
        if (!split_path(req, segs, offsets, decoded)) {
            return http::problem(400, "invalid percent-encoding in the path (or an encoded NUL)", req.path());
        }
        for (std::string_view s : segs) {
            if (s == "." || s == "..") {
                return http::problem(400, "dot segments are not allowed in the path", req.path());
            }
        }
        req.params().clear();
        Matcher matcher{segs, req, offsets, decoded};
        Match m;
        if (matcher.walk(table->root, 0, m)) {
            // Restore encoded slashes inside parameter values.
            if (decoded.data() != req.path().data() + 1) {
                for (char& c : req.scratch()) {
                    if (c == '\0') {
                        c = '/';
                    }
                }
            }
            req.set_route(m.endpoint->pattern);
            return m.handler->invoke(req);
        }
        req.params().clear();
        if (m.path_only) {
            req.set_route(m.path_only->pattern);
            if (req.method() == http::Method::options) {
                http::Response r(204);
                r.header("Allow", m.path_only->allow);
                return r;
            }
            if (table->method_not_allowed) {
                return table->method_not_allowed.invoke(req);
            }
            http::Response r = http::problem(405, "method " + std::string(req.method_name()) + " is not allowed here",
                                             req.path());
            r.header("Allow", m.path_only->allow);
            return r;
        }
        if (table->slash == TrailingSlash::redirect && !req.path().empty() && req.path() != "/") {
            std::string alt(req.path());
            if (alt.back() == '/') {
                alt.pop_back();
            } else {
                alt.push_back('/');
            }
            std::vector<std::string_view> alt_segs;
            std::vector<std::size_t> alt_offsets;
            std::string_view alt_decoded = std::string_view(alt).substr(1);
            std::size_t start = 0;
            while (!alt_decoded.empty()) {
                std::size_t slash = alt_decoded.find('/', start);
                alt_offsets.push_back(start);
                alt_segs.push_back(alt_decoded.substr(start, slash == std::string_view::npos ? std::string_view::npos
                                                                                              : slash - start));
                if (slash == std::string_view::npos) {
                    break;
                }
                start = slash + 1;
            }
            Matcher alt_matcher{alt_segs, req, alt_offsets, alt_decoded};
            Match am;
            bool found = alt_matcher.walk(table->root, 0, am) || am.path_only;
            req.params().clear();
            if (found) {
                bool safe = req.method() == http::Method::get || req.method() == http::Method::head;
                http::Response r(safe ? 301 : 308);
                if (!req.query().empty()) {
                    alt += "?";
                    alt += req.query();
                }
                r.header("Location", alt);
                return r;
            }
        }
        if (table->not_found) {
            return table->not_found.invoke(req);
        }
        return http::problem(404, "no route for " + std::string(req.method_name()) + " " + std::string(req.path()),
                             req.path());
    };
    return chain(table->root_stack, std::move(dispatch));
}

}  // namespace keel::router
