#pragma once
/// A browsable page for an OpenAPI document, rendered by Swagger UI (npm's swagger-ui-dist,
/// installed by the build into tools/contract/node_modules — never committed, never from a CDN):
///
///     keel::web::ApiDocsOptions docs{.assets_dir = swagger_ui_dist, .spec_url = "/openapi.json"};
///     r.get("/docs", keel::web::api_docs_page(docs));
///     r.get("/docs/{file...}", keel::web::api_docs_assets(docs));
///
/// The page is ours (no inline script): it loads swagger-ui.css, swagger-ui-bundle.js and a
/// small init script from `prefix`, under a strict Content-Security-Policy (scripts and
/// connections to this origin only, no objects, no framing; inline styles are allowed because
/// Swagger UI sets style attributes).

#include <keel/http/handler.hpp>

#include <string>
#include <string_view>

namespace keel::web {

struct ApiDocsOptions {
    std::string assets_dir;                  ///< swagger-ui-dist's directory
    std::string spec_url = "/openapi.json";  ///< where the page fetches the document
    std::string prefix = "/docs";            ///< the page's path; its files are under prefix/
    std::string title = "API documentation";
};

/// The Content-Security-Policy the page is served with.
inline constexpr std::string_view kApiDocsCsp =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// GET prefix: the HTML page.
http::Handler api_docs_page(const ApiDocsOptions& options);
/// GET prefix/{file}: Swagger UI's script, stylesheet and icons, and the page's init script.
/// Throws std::system_error when assets_dir cannot be opened.
http::Handler api_docs_assets(const ApiDocsOptions& options);

/// True when `dir` holds the Swagger UI files the page needs.
bool api_docs_assets_present(const std::string& dir);

}  // namespace keel::web
