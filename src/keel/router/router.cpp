#include <keel/router/router.hpp>

#include "tree.hpp"

#include <stdexcept>

namespace keel::router {

using detail::Endpoint;
using detail::Node;
using detail::ParamChild;
using detail::Segment;
using detail::setup_error;

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
    std::vector<Segment> segs = detail::parse_pattern(full);
    Endpoint& e = detail::insert(table_->root, full, segs);
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
    table_->routes.push_back({std::string(method), full, nullptr});
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

Router& Router::doc(Operation operation) {
    if (table_->routes.empty()) {
        setup_error("doc() before any route");
    }
    table_->routes.back().operation = std::make_shared<const Operation>(std::move(operation));
    return *this;
}

const std::vector<RouteInfo>& Router::routes() const noexcept {
    return table_->routes;
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
                for (const RouteInfo& r : sub.table_->routes) {
                    if (r.method == method && r.pattern == e->pattern) {
                        table_->routes.back().operation = r.operation;  // its documentation comes along
                    }
                }
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

}  // namespace keel::router
