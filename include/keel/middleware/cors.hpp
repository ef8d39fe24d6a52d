#pragma once
/// keel::mw::cors: Cross-Origin Resource Sharing. Origins are exact ("https://app.example.com"),
/// "*" (any; never combined with credentials, the origin is echoed instead), or one-label
/// wildcards ("https://*.example.com"). A preflight (OPTIONS with Origin and
/// Access-Control-Request-Method) is answered 204 here, without reaching the handler; other
/// requests from an allowed origin get Access-Control-Allow-Origin (+ Expose-Headers,
/// Allow-Credentials). `Vary: Origin` is always set, so caches keep answers apart.

#include <keel/http/middleware.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace keel::mw {

struct CorsOptions {
    std::vector<std::string> allowed_origins = {};
    std::vector<std::string> allowed_methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    std::vector<std::string> allowed_headers = {"Accept", "Authorization", "Content-Type", "X-Request-ID"};
    std::vector<std::string> exposed_headers = {};
    bool allow_credentials = false;
    std::chrono::seconds max_age{600};
};

http::Middleware cors(CorsOptions options);

}  // namespace keel::mw
