#pragma once
/// Small middleware, each a few lines:
///   heartbeat("/ping")      GET/HEAD on that path answers 200 "." before routing (for load balancers)
///   no_cache()              responses get Cache-Control: no-store … so nothing caches them
///   security_headers(o)     nosniff, frame denial, no referrer, a strict CSP for APIs, HSTS if asked
///   body_limit(n)           bodies over n bytes → 413 (a per-group limit under server.max_body_bytes)
///   allow_content_type(l)   requests with a body must have one of these media types → 415
///   strip_slashes()         "/users/" is routed as "/users"
///   clean_path()            "//a/./b/../c" → 301 to "/a/c" (dot segments and repeated slashes)

#include <keel/http/middleware.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace keel::mw {

http::Middleware heartbeat(std::string path = "/ping");
http::Middleware no_cache();

struct SecurityHeadersOptions {
    std::string frame_options = "DENY";
    std::string referrer_policy = "no-referrer";
    std::string content_security_policy = "default-src 'none'; frame-ancestors 'none'";
    /// Strict-Transport-Security, sent only when > 0 (turn on when served over TLS).
    std::chrono::seconds hsts_max_age{0};
    bool hsts_include_subdomains = true;
};
http::Middleware security_headers(SecurityHeadersOptions options = {});

http::Middleware body_limit(std::size_t max_bytes);
/// Media types compared case-insensitively, parameters (";charset=…") ignored.
http::Middleware allow_content_type(std::vector<std::string> media_types);

http::Middleware strip_slashes();
http::Middleware clean_path();

}  // namespace keel::mw
