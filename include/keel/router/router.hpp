#pragma once
/// keel::router::Router: chi-style routing. Patterns are made of path segments:
///   - static segments: `/v1/links`
///   - parameters: `{slug}`, or constrained `{id:[0-9]+}` (the regex must match the whole
///     segment; compiled once, at registration)
///   - a trailing catch-all: `{path...}` (captures the rest, slashes included; may be empty:
///     "/files/" matches "/files/{path...}", "/files" does not)
/// Matching precedence at each segment: static, then constrained parameters (in registration
/// order), then plain parameters, then catch-all, backtracking when a branch dead-ends.
/// Segments are percent-decoded before matching, so `%2F` inside a segment never splits it.
///
///     keel::router::Router r;
///     r.use(keel::mw::request_id());                  // wraps everything, 404/405 included
///     r.get("/users/{id:[0-9]+}", get_user);
///     r.group("/v1", [&](Router& v1) {
///         v1.use(auth);                                 // only these routes
///         v1.post("/links", create_link);
///     });
///     app.handle(r.handler());
///
/// Behaviour: 405 with `Allow` when the path matches but the method does not; HEAD falls back
/// to the GET route; OPTIONS without a route answers 204 with `Allow`; paths with `.` or `..`
/// segments are 400 (clean them first with the clean_path middleware if you want redirects);
/// the trailing-slash policy is strict (default) or redirect. The matched pattern ("template")
/// is set on the request (`req.route()`). Setup mistakes (conflicting routes, bad patterns,
/// `use` after a route) throw std::invalid_argument prefixed "keel: router:" at registration.

#include <keel/http/handler.hpp>
#include <keel/http/middleware.hpp>
#include <keel/router/operation.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace keel::router {

using http::Handler;
using http::Middleware;

enum class TrailingSlash {
    strict,    ///< "/a/" and "/a" are different paths (404 if only one exists)
    redirect,  ///< a miss that would match with/without the slash redirects there (301 GET/HEAD, 308 others)
};

namespace detail {
struct Table;
}

class Router {
  public:
    Router();
    ~Router();
    Router(Router&&) noexcept;
    Router& operator=(Router&&) noexcept;

    /// Registers `handler` for `method` ("GET", "POST", …, or "*" for any method).
    Router& handle(std::string_view method, std::string_view pattern, Handler handler);
    Router& get(std::string_view pattern, Handler h) { return handle("GET", pattern, std::move(h)); }
    Router& head(std::string_view pattern, Handler h) { return handle("HEAD", pattern, std::move(h)); }
    Router& post(std::string_view pattern, Handler h) { return handle("POST", pattern, std::move(h)); }
    Router& put(std::string_view pattern, Handler h) { return handle("PUT", pattern, std::move(h)); }
    Router& patch(std::string_view pattern, Handler h) { return handle("PATCH", pattern, std::move(h)); }
    Router& del(std::string_view pattern, Handler h) { return handle("DELETE", pattern, std::move(h)); }
    Router& options(std::string_view pattern, Handler h) { return handle("OPTIONS", pattern, std::move(h)); }

    /// Documents the route registered last (keel/router/operation.hpp): `r.get(...).doc({...})`.
    Router& doc(Operation operation);
    /// Every route registered so far, in order, with its documentation.
    const std::vector<RouteInfo>& routes() const noexcept;

    /// Adds middleware; the first added is the outermost. On the root router it wraps the whole
    /// dispatch (404 and 405 answers too); in a group it wraps that group's routes. Must come
    /// before the routes it should wrap (throws otherwise).
    Router& use(Middleware mw);
    /// A view of this router whose routes get `mws` in addition (chi's With).
    Router with(std::vector<Middleware> mws);
    /// Routes under `prefix` with their own middleware.
    Router& group(std::string_view prefix, const std::function<void(Router&)>& build);
    /// Adds every route of `sub` under `prefix` (with sub's middleware, inside ours).
    Router& mount(std::string_view prefix, Router&& sub);

    Router& not_found(Handler h);
    Router& method_not_allowed(Handler h);
    Router& trailing_slash(TrailingSlash policy);

    /// The dispatching handler. The router's routes are frozen from here on; the handler keeps
    /// them alive and may be copied freely.
    Handler handler();

  private:
    Router(std::shared_ptr<detail::Table> table, std::string prefix, std::vector<Middleware> stack, bool root);
    void check_no_routes_yet(const char* what) const;

    std::shared_ptr<detail::Table> table_;
    std::string prefix_;
    std::vector<Middleware> stack_;  // applied to routes registered through this view
    bool root_;
    std::size_t routes_registered_ = 0;
};

}  // namespace keel::router
