#pragma once
// linkd's HTTP layer: parse the request, call the service, write the response. Nothing here
// decides a business rule.

#include "service/key_service.hpp"
#include "service/link_service.hpp"

#include <keel/http/middleware.hpp>
#include <keel/observe/log.hpp>
#include <keel/ratelimit/limiter.hpp>
#include <keel/router/router.hpp>

#include <functional>
#include <string>

namespace linkd {

struct RoutesConfig {
    LinkService& links;
    KeyService& keys;
    /// /readyz's check of the database (the composition root passes the repository's ping:
    /// the handler layer does not reach the repository itself).
    std::function<keel::Task<keel::Result<void>>()> database_ping;
    /// True while the server accepts work (false from the start of shutdown): /readyz.
    std::function<bool()> accepting = {};
    /// Prefix of short_url ("https://lnk.example"); empty: "http://" + the request's Host.
    std::string base_url = {};
    /// Where 5xx causes go (the client sees a generic text); may be null.
    keel::log::Logger* logger = nullptr;
    /// The OpenAPI contract as JSON, served at /openapi.json.
    std::string_view openapi_json = {};
    /// Swagger UI's files (npm's swagger-ui-dist): the contract browsable at /docs ("" or
    /// missing files: no page, and a warning).
    std::string docs_assets_dir = {};
    /// Cache-Control of redirects and of link reads (empty: none).
    std::string redirect_cache_control = "private, max-age=0";
    std::string read_cache_control = "private, no-cache";
    /// Link creation per API key; redirects per client IP (null: not limited).
    std::shared_ptr<keel::ratelimit::Limiter> create_limiter = {};
    std::shared_ptr<keel::ratelimit::Limiter> redirect_limiter = {};
    /// The Idempotency-Key middleware of POST /v1/links and /v1/keys (empty: the header is ignored).
    keel::http::Middleware idempotency = {};
};

/// Every route of the API on `r` (which may already have middleware).
void add_routes(keel::router::Router& r, const RoutesConfig& config);

}  // namespace linkd
