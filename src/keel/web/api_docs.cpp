#include <keel/web/api_docs.hpp>

#include <keel/http/problem.hpp>
#include <keel/json/writer.hpp>
#include <keel/web/html.hpp>
#include <keel/web/static_files.hpp>

#include <unistd.h>

#include <array>
#include <memory>

namespace keel::web {
namespace {

// The only files of swagger-ui-dist the page uses (its index.html and initializer, which point
// at a demo document on the internet, are not served).
constexpr std::array<std::string_view, 4> kAssets = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png",
                                                     "favicon-16x16.png"};
constexpr std::string_view kInitScript = "keel-docs.js";

/// The page or its init script: made once, served from memory, never cached stale, under the CSP.
http::Response generated(std::string_view content_type, const std::string& body) {
    http::Response r(200);
    r.header("Content-Type", content_type);
    r.header("Cache-Control", "no-cache");
    r.header("Content-Security-Policy", kApiDocsCsp);
    r.header("X-Content-Type-Options", "nosniff");
    r.header("Referrer-Policy", "no-referrer");
    r.static_body(body);
    return r;
}

}  // namespace

bool api_docs_assets_present(const std::string& dir) {
    return ::access((dir + "/swagger-ui-bundle.js").c_str(), R_OK) == 0 &&
           ::access((dir + "/swagger-ui.css").c_str(), R_OK) == 0;
}

http::Handler api_docs_page(const ApiDocsOptions& options) {
    std::string html = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
    append_html_escaped(html, options.title);
    html += "</title>\n<link rel=\"icon\" type=\"image/png\" href=\"";
    append_html_escaped(html, options.prefix + "/favicon-32x32.png");
    html += "\">\n<link rel=\"stylesheet\" href=\"";
    append_html_escaped(html, options.prefix + "/swagger-ui.css");
    html += "\">\n</head>\n<body>\n<div id=\"docs\"></div>\n<script src=\"";
    append_html_escaped(html, options.prefix + "/swagger-ui-bundle.js");
    html += "\"></script>\n<script src=\"";
    append_html_escaped(html, options.prefix + "/" + std::string(kInitScript));
    html += "\"></script>\n</body>\n</html>\n";
    auto page = std::make_shared<const std::string>(std::move(html));
    return [page](http::Request&) { return generated("text/html; charset=utf-8", *page); };
}

http::Handler api_docs_assets(const ApiDocsOptions& options) {
    std::string script = "window.addEventListener(\"load\", function () {\n  window.ui = SwaggerUIBundle({url: ";
    json::write_string(script, options.spec_url);
    script += ", dom_id: \"#docs\", deepLinking: true});\n});\n";
    auto init = std::make_shared<const std::string>(std::move(script));
    http::Handler files = static_files(
        options.assets_dir,
        {.strip_prefix = options.prefix, .index = "", .precompressed = false, .cache_control = "public, max-age=3600"});
    std::string prefix = options.prefix + "/";
    return [init, files, prefix](http::Request& req) -> http::Outcome {
        std::string_view name = req.path();
        name.remove_prefix(std::min(name.size(), prefix.size()));
        if (name == kInitScript) {
            return generated("text/javascript; charset=utf-8", *init);
        }
        for (std::string_view asset : kAssets) {
            if (name == asset) {
                return files.invoke(req);
            }
        }
        return http::problem(404, "no such file", req.path());
    };
}

}  // namespace keel::web
