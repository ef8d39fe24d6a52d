// todo: a small JSON API on keel, the way a service is wired: configuration, the database
// migrated at start-up, middleware, routes, graceful shutdown. See docs/tutorial.md.
//
//     todo --todo.db todo.db --server.port 8080
#include "todo.hpp"

#include <keel/app/app.hpp>
#include <keel/middleware/cors.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/openapi/openapi.hpp>
#include <keel/ratelimit/limiter.hpp>
#include <keel/ratelimit/middleware.hpp>
#include <keel/web/api_docs.hpp>

int main(int argc, char** argv) {
    keel::App app(argc, argv, {.name = "todo", .env_prefix = "TODO", .define = [](keel::config::Config& c) {
                                   c.define_string("todo.db", "todo.db", "SQLite database file");
                                   c.define_string("todo.cors_origin", "", "a web origin allowed to call the API");
                                   c.define_int("todo.requests_per_second", 50, 1, 1'000'000, "per client IP");
                                   c.define_string("todo.docs_assets_dir", "",
                                                   "npm's swagger-ui-dist, for /docs (empty: no page)");
                               }});
    keel::sqlite::Database db({.file = {.path = app.config().get_string("todo.db")}});
    app.migrate(db, todo::migrations());  // exits 1 with the reason when it cannot

    keel::router::Router r;
    r.use(app.access_log());  // outermost: logs what was finally sent, 500s included
    r.use(app.recoverer());
    r.use(keel::mw::request_id());
    if (std::string origin = app.config().get_string("todo.cors_origin"); !origin.empty()) {
        r.use(keel::mw::cors({.allowed_origins = {origin}}));
    }
    auto per_second = app.config().get_int<std::uint32_t>("todo.requests_per_second");
    auto limit = keel::ratelimit::Limit{.rate = static_cast<double>(per_second), .burst = 2 * per_second};
    r.use(keel::ratelimit::rate_limit(std::make_shared<keel::ratelimit::LocalLimiter>(limit),
                                      keel::ratelimit::client_ip_key));
    todo::add_routes(r, db);
    // The contract, derived from the routes' doc(), and a page to read it (Swagger UI's files
    // from npm's swagger-ui-dist, when --todo.docs_assets_dir points at them).
    keel::openapi::serve(r, {.title = "todo", .version = "1.0.0"});
    if (std::string assets = app.config().get_string("todo.docs_assets_dir"); !assets.empty()) {
        keel::web::ApiDocsOptions docs{.assets_dir = assets, .title = "todo API"};
        r.get("/docs", keel::web::api_docs_page(docs));
        r.get("/docs/{file...}", keel::web::api_docs_assets(docs));
    }
    app.handle(r.handler());
    app.on_shutdown([&db] { db.close(); });
    return app.run();
}
