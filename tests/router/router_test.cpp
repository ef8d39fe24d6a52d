#include <keel/router/router.hpp>
#include <keel/testing/recorder.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

using keel::http::Middleware;
using keel::router::Router;
using keel::router::TrailingSlash;
using keel::testing::call;
using keel::testing::TestRequest;

namespace {

// A handler that reports which route ran, its parameters and the matched template.
keel::http::Handler h(std::string id) {
    return [id](keel::http::Request& req) {
        std::string params;
        for (const auto& p : req.params()) {
            params += std::string(p.name) + "=" + std::string(p.value) + ";";
        }
        return keel::http::Response::text(id + "|" + params + "|" + std::string(req.route()));
    };
}

// A middleware that appends its tag to X-Trace on the way out (so order is visible).
Middleware tag(std::string name) {
    return [name](keel::http::Handler next) {
        return keel::http::wrap(std::move(next), nullptr, [name](keel::http::Request&, keel::http::Response& r) {
            std::string trace(r.header_value("X-Trace").value_or(""));
            r.set_header("X-Trace", name + (trace.empty() ? "" : "," + trace));
        });
    };
}

Router api_routes() {
    Router r;
    r.get("/", h("root"));
    r.get("/users", h("users.list"));
    r.post("/users", h("users.create"));
    r.get("/users/{id}", h("users.get"));
    r.put("/users/{id}", h("users.put"));
    r.del("/users/{id}", h("users.delete"));
    r.get("/users/me", h("users.me"));
    r.get("/users/{id}/posts/{post}", h("posts.get"));
    r.get("/users/{id:[0-9]+}/avatar", h("avatar.num"));
    r.get("/files/{path...}", h("files"));
    r.get("/files/readme", h("files.readme"));
    r.get("/items/{id:[0-9]+}", h("items.num"));
    r.get("/items/{slug:[a-z-]+}", h("items.slug"));
    r.get("/items/{any}", h("items.any"));
    r.get("/a/{x}/c", h("axc"));
    r.post("/a/b/c", h("abc.post"));
    r.get("/trailing/", h("trailing.slash"));
    r.handle("PURGE", "/cache", h("cache.purge"));
    r.handle("*", "/any", h("any"));
    r.get("/static/{rest...}", h("static"));
    r.options("/opts", h("opts.explicit"));
    return r;
}

Router redirect_routes() {
    Router r;
    r.trailing_slash(TrailingSlash::redirect);
    r.get("/a", h("a"));
    r.get("/b/", h("b"));
    r.post("/c", h("c"));
    return r;
}

Router layered_routes() {
    Router r;
    r.use(tag("R"));
    r.group("/v1", [](Router& v1) {
        v1.use(tag("G"));
        v1.get("/links", h("links"));
    });
    r.with({tag("W")}).get("/w", h("w"));
    Router admin;
    admin.use(tag("S"));
    admin.get("/stats", h("stats"));
    admin.get("/", h("admin.root"));
    r.mount("/admin", std::move(admin));
    return r;
}

Router custom_routes() {
    Router r;
    r.get("/x", h("x"));
    r.not_found([](keel::http::Request&) { return keel::http::Response::text("custom 404", 404); });
    r.method_not_allowed([](keel::http::Request&) { return keel::http::Response::text("custom 405", 405); });
    return r;
}

struct Case {
    const char* set;
    const char* method;
    const char* target;
    int status;
    std::string body;  // "id|params|template" for routed answers, or a substring for errors
    std::string allow = {};
    std::string location = {};
    std::string trace = {};
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.set << " " << c.method << " " << c.target;
}

class RouterTable : public ::testing::TestWithParam<Case> {};

TEST_P(RouterTable, Routes) {
    static std::map<std::string, keel::http::Handler> handlers = [] {
        std::map<std::string, keel::http::Handler> m;
        m["api"] = api_routes().handler();
        m["redirect"] = redirect_routes().handler();
        m["layered"] = layered_routes().handler();
        m["custom"] = custom_routes().handler();
        return m;
    }();
    const Case& c = GetParam();
    auto res = call(handlers.at(c.set), TestRequest{c.method, c.target});
    EXPECT_EQ(res.status, c.status) << res.body;
    if (res.status == 200 || c.body.find('|') != std::string::npos) {
        EXPECT_EQ(res.body, c.body);
    } else {
        EXPECT_NE(res.body.find(c.body), std::string::npos) << res.body;
    }
    if (!c.allow.empty()) {
        EXPECT_EQ(res.header("Allow").value_or("<none>"), c.allow);
    }
    if (!c.location.empty()) {
        EXPECT_EQ(res.header("Location").value_or("<none>"), c.location);
    }
    if (!c.trace.empty()) {
        EXPECT_EQ(res.header("X-Trace").value_or("<none>"), c.trace);
    }
    if (res.status >= 400 && res.status != 405 && std::string(c.set) != "custom") {
        EXPECT_EQ(res.header("Content-Type").value_or(""), "application/problem+json");
    }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RouterTable,
    ::testing::Values(
        // static, params, precedence
        Case{"api", "GET", "/", 200, "root||/"}, Case{"api", "GET", "/users", 200, "users.list||/users"},
        Case{"api", "POST", "/users", 200, "users.create||/users"},
        Case{"api", "GET", "/users?x=1", 200, "users.list||/users"},
        Case{"api", "GET", "/users/42", 200, "users.get|id=42;|/users/{id}"},
        Case{"api", "GET", "/users/me", 200, "users.me||/users/me"},
        Case{"api", "PUT", "/users/me", 200, "users.put|id=me;|/users/{id}"},
        Case{"api", "DELETE", "/users/7", 200, "users.delete|id=7;|/users/{id}"},
        Case{"api", "HEAD", "/users/7", 200, "users.get|id=7;|/users/{id}"}, Case{"api", "HEAD", "/", 200, "root||/"},
        Case{"api", "GET", "/users/7/posts/9", 200, "posts.get|id=7;post=9;|/users/{id}/posts/{post}"},
        Case{"api", "GET", "/users/7/posts", 404, "no route"},
        Case{"api", "GET", "/users/12/avatar", 200, "avatar.num|id=12;|/users/{id:[0-9]+}/avatar"},
        Case{"api", "GET", "/users/abc/avatar", 404, "no route"},
        Case{"api", "GET", "/files/a/b/c.txt", 200, "files|path=a/b/c.txt;|/files/{path...}"},
        Case{"api", "GET", "/files/readme", 200, "files.readme||/files/readme"},
        Case{"api", "GET", "/files/readme/more", 200, "files|path=readme/more;|/files/{path...}"},
        Case{"api", "GET", "/files/", 200, "files|path=;|/files/{path...}"},
        Case{"api", "GET", "/files", 404, "no route"},
        Case{"api", "GET", "/items/123", 200, "items.num|id=123;|/items/{id:[0-9]+}"},
        Case{"api", "GET", "/items/abc-def", 200, "items.slug|slug=abc-def;|/items/{slug:[a-z-]+}"},
        Case{"api", "GET", "/items/ABC", 200, "items.any|any=ABC;|/items/{any}"},
        Case{"api", "GET", "/items/12a", 200, "items.any|any=12a;|/items/{any}"},
        Case{"api", "GET", "/a/b/c", 200, "axc|x=b;|/a/{x}/c"}, Case{"api", "POST", "/a/b/c", 200, "abc.post||/a/b/c"},
        Case{"api", "GET", "/a/z/c", 200, "axc|x=z;|/a/{x}/c"},
        Case{"api", "GET", "/static/css/site.css", 200, "static|rest=css/site.css;|/static/{rest...}"},
        Case{"api", "GET", "/nope", 404, "no route for GET /nope"}, Case{"api", "GET", "/USERS", 404, "no route"},
        Case{"api", "GET", "//users", 404, "no route"},
        // methods: 405 with Allow, automatic HEAD and OPTIONS, extension methods, any
        Case{"api", "PUT", "/users", 405, "not allowed", "GET, HEAD, POST, OPTIONS"},
        Case{"api", "PATCH", "/users/7", 405, "not allowed", "GET, HEAD, PUT, DELETE, OPTIONS"},
        Case{"api", "POST", "/files/x", 405, "not allowed", "GET, HEAD, OPTIONS"},
        Case{"api", "OPTIONS", "/users/7", 204, "", "GET, HEAD, PUT, DELETE, OPTIONS"},
        Case{"api", "OPTIONS", "/users", 204, "", "GET, HEAD, POST, OPTIONS"},
        Case{"api", "OPTIONS", "/opts", 200, "opts.explicit||/opts"},
        Case{"api", "GET", "/opts", 405, "not allowed", "OPTIONS"},
        Case{"api", "PURGE", "/cache", 200, "cache.purge||/cache"},
        Case{"api", "GET", "/cache", 405, "not allowed", "OPTIONS, PURGE"},
        Case{"api", "DELETE", "/any", 200, "any||/any"}, Case{"api", "GET", "/any", 200, "any||/any"},
        Case{"api", "BREW", "/any", 200, "any||/any"}, Case{"api", "POST", "/nope", 404, "no route"},
        // trailing slashes (strict by default)
        Case{"api", "GET", "/trailing/", 200, "trailing.slash||/trailing/"},
        Case{"api", "GET", "/trailing", 404, "no route"}, Case{"api", "GET", "/users/", 404, "no route"},
        // percent-encoding and dot segments
        Case{"api", "GET", "/users/%34%32", 200, "users.get|id=42;|/users/{id}"},
        Case{"api", "GET", "/users/a%2Fb", 200, "users.get|id=a/b;|/users/{id}"},
        Case{"api", "GET", "/users/caf%C3%A9", 200, "users.get|id=caf\xc3\xa9;|/users/{id}"},
        Case{"api", "GET", "/files/a%2Fb/c", 200, "files|path=a/b/c;|/files/{path...}"},
        Case{"api", "GET", "/users/%6De", 200, "users.me||/users/me"},
        Case{"api", "GET", "/users/%zz", 400, "percent-encoding"},
        Case{"api", "GET", "/users/%4", 400, "percent-encoding"},
        // an encoded NUL once decoded to '/' (NUL marks encoded slashes): now refused
        Case{"api", "GET", "/users/%00abc", 400, "encoded NUL"},
        Case{"api", "GET", "/files/a%00/b", 400, "encoded NUL"},
        Case{"api", "GET", "/users/../etc", 400, "dot segments"}, Case{"api", "GET", "/users/./7", 400, "dot segments"},
        Case{"api", "GET", "/users/%2e%2e", 400, "dot segments"},
        Case{"api", "GET", "/files/a/../../etc/passwd", 400, "dot segments"},
        Case{"api", "GET", "/users/..x", 200, "users.get|id=..x;|/users/{id}"},
        // trailing-slash redirect policy
        Case{"redirect", "GET", "/a/", 301, "", "", "/a"}, Case{"redirect", "GET", "/b", 301, "", "", "/b/"},
        Case{"redirect", "POST", "/c/", 308, "", "", "/c"}, Case{"redirect", "GET", "/a/?q=1", 301, "", "", "/a?q=1"},
        Case{"redirect", "HEAD", "/a/", 301, "", "", "/a"}, Case{"redirect", "GET", "/zzz/", 404, "no route"},
        Case{"redirect", "GET", "/a", 200, "a||/a"},
        // groups, with, mount and middleware order (first added is outermost)
        Case{"layered", "GET", "/v1/links", 200, "links||/v1/links", "", "", "R,G"},
        Case{"layered", "GET", "/w", 200, "w||/w", "", "", "R,W"},
        Case{"layered", "GET", "/admin/stats", 200, "stats||/admin/stats", "", "", "R,S"},
        Case{"layered", "GET", "/admin", 200, "admin.root||/admin", "", "", "R,S"},
        Case{"layered", "GET", "/missing", 404, "no route", "", "", "R"},
        Case{"layered", "PUT", "/v1/links", 405, "not allowed", "GET, HEAD, OPTIONS", "", "R"},
        // custom NotFound / MethodNotAllowed
        Case{"custom", "GET", "/nope", 404, "custom 404"}, Case{"custom", "POST", "/x", 405, "custom 405"}));

// ---------------------------------------------------------------------------- setup errors

std::string setup_error(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "<no error>";
}

TEST(RouterSetup, DuplicateRoute) {
    Router r;
    r.get("/users/{id}", h("a"));
    EXPECT_EQ(setup_error([&] { r.get("/users/{id}", h("b")); }), "keel: router: duplicate route GET /users/{id}");
}

TEST(RouterSetup, ConflictingParameterNames) {
    Router r;
    r.get("/users/{id}", h("a"));
    EXPECT_EQ(setup_error([&] { r.get("/users/{name}/x", h("b")); }),
              "keel: router: \"/users/{name}/x\" conflicts with \"/users/{id}\": same position, different "
              "parameter names");
}

TEST(RouterSetup, ConflictingConstrainedParameters) {
    Router r;
    r.get("/n/{id:[0-9]+}", h("a"));
    EXPECT_NE(setup_error([&] { r.get("/n/{num:[0-9]+}", h("b")); }).find("conflicts with"), std::string::npos);
}

TEST(RouterSetup, InvalidPatterns) {
    Router r;
    EXPECT_NE(setup_error([&] { r.get("/x/{id:[}", h("a")); }).find("invalid regex \"[\""), std::string::npos);
    EXPECT_NE(setup_error([&] { r.get("/x/{p...}/y", h("a")); }).find("catch-all must be the last"), std::string::npos);
    EXPECT_NE(setup_error([&] { r.get("x", h("a")); }).find("must start with '/'"), std::string::npos);
    EXPECT_NE(setup_error([&] { r.get("/x/a{b}", h("a")); }).find("whole segments"), std::string::npos);
    EXPECT_NE(setup_error([&] { r.get("/x/{a}/{a}", h("a")); }).find("appears twice"), std::string::npos);
    EXPECT_NE(setup_error([&] { r.get("/x/{1a}", h("a")); }).find("invalid parameter name"), std::string::npos);
    EXPECT_NE(setup_error([&] { r.get("/x//y", h("a")); }).find("empty segment"), std::string::npos);
}

TEST(RouterSetup, UseAfterRoutes) {
    Router r;
    r.get("/x", h("a"));
    EXPECT_NE(setup_error([&] { r.use(tag("late")); }).find("use() must come before"), std::string::npos);
}

TEST(RouterSetup, RouteAfterHandlerTaken) {
    Router r;
    r.get("/x", h("a"));
    auto handler = r.handler();
    EXPECT_NE(setup_error([&] { r.get("/y", h("b")); }).find("after handler() was taken"), std::string::npos);
}

TEST(Router, CoroutineHandlersAndMiddlewareCompose) {
    Router r;
    r.use(tag("outer"));
    r.get("/co/{n}", [](keel::http::Request& req) -> keel::Task<keel::http::Response> {
        co_return keel::http::Response::text(std::string(req.param("n")));
    });
    auto res = call(r.handler(), TestRequest{"GET", "/co/5"});
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, "5");
    EXPECT_EQ(res.header("X-Trace"), "outer");
}

}  // namespace
