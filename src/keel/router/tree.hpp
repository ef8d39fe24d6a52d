#pragma once
// Internal to the router module: the route tree and what works on it. pattern.cpp turns a
// pattern into segments, tree.cpp inserts them and matches a path against the tree,
// dispatch.cpp answers a request (route, 405, trailing-slash redirect, 404), router.cpp is the
// public Router that builds the table.

#include <keel/router/router.hpp>

#include <array>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::router::detail {

constexpr std::size_t kKnownMethods = 9;  // http::Method values before `other`

struct Endpoint {
    std::string pattern;  // the route template, e.g. "/v1/links/{slug}"
    std::array<Handler, kKnownMethods> by_method;
    std::vector<std::pair<std::string, Handler>> extension;  // methods outside http::Method
    Handler any;                                             // registered with "*"
    std::string allow;                                       // computed when frozen

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
    std::vector<RouteInfo> routes;  // in registration order, for documentation
};

/// Throws std::invalid_argument("keel: router: " + msg): a mistake in the route table.
[[noreturn]] void setup_error(const std::string& msg);

// ---- patterns (pattern.cpp)

struct Segment {
    enum Kind { literal, param, catch_all } kind;
    std::string text;   // literal text or parameter name
    std::string regex;  // for constrained parameters
};

/// "/users/{id:[0-9]+}/files/{rest...}" → its segments; throws setup_error on a bad pattern.
std::vector<Segment> parse_pattern(std::string_view pattern);

// ---- the tree (tree.cpp)

/// The endpoint for `segs` under `root`, made when missing; throws on conflicting parameters.
Endpoint& insert(Node& root, std::string_view pattern, const std::vector<Segment>& segs);
/// Fills every endpoint's Allow header value (once, when the table is frozen).
void compute_allow(Node& n);

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

    bool accept(const Endpoint& e, Match& m);
    /// Matches segs[i...] below `n`; fills the request's params on the way.
    bool walk(const Node& n, std::size_t i, Match& m);
};

}  // namespace keel::router::detail
