#include "tree.hpp"

#include <algorithm>

namespace keel::router::detail {

void setup_error(const std::string& msg) {
    throw std::invalid_argument("keel: router: " + msg);
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
                        setup_error("invalid regex \"" + s.regex + "\" in \"" + std::string(pattern) +
                                    "\": " + e.what());
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

// ---- matching

bool Matcher::accept(const Endpoint& e, Match& m) {
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

bool Matcher::walk(const Node& n, std::size_t i, Match& m) {
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

}  // namespace keel::router::detail
