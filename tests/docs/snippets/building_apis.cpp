// The C++ of docs/building-apis.md, in a context that compiles. docs_test checks that every
// ```cpp block of the page appears here (or in examples/) line for line, so the page cannot
// drift from the API. Nothing here runs; it only has to build.
#include <keel/client/client.hpp>
#include <keel/idempotency/middleware.hpp>
#include <keel/idempotency/postgres_store.hpp>
#include <keel/keel.hpp>
#include <keel/middleware/basics.hpp>
#include <keel/middleware/compress.hpp>
#include <keel/middleware/cors.hpp>
#include <keel/middleware/real_ip.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/timeout.hpp>
#include <keel/middleware/trace_context.hpp>
#include <keel/postgres/postgres.hpp>
#include <keel/redis/client.hpp>
#include <keel/redis/subscriber.hpp>

#include <memory>
#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace docs_building_apis {

keel::Response get_user(keel::Request&) {
    return keel::Response::text("user");
}
keel::Response get_me(keel::Request&) {
    return keel::Response::text("me");
}
keel::Response serve_static(keel::Request&) {
    return keel::Response::text("file");
}
keel::Response create_link(keel::Request&) {
    return keel::Response::text("made", 201);
}

void routes(keel::App& app, keel::Router admin_router) {
    keel::Router r;
    r.get("/users/{id:[0-9]+}", get_user);     // constrained parameter (regex compiled once)
    r.get("/users/me", get_me);                // static beats parameter
    r.get("/static/{path...}", serve_static);  // catch-all, slashes included
    r.group("/v1", [&](keel::Router& v1) {
        v1.use(keel::mw::timeout(2s));  // only the routes of this group
        v1.post("/links", create_link);
    });
    r.mount("/admin", std::move(admin_router));  // another router's routes under a prefix
    app.handle(r.handler());
}

void middleware(keel::App& app, keel::Router& r) {
    r.use(app.access_log());                   // one JSON line per request, as finally sent
    r.use(app.recoverer());                    // exceptions → 500, logged with the request id
    r.use(keel::mw::request_id());             // X-Request-ID in and out, and in problem bodies
    r.use(keel::mw::real_ip({"10.0.0.0/8"}));  // only trusted proxies' headers are believed
    r.use(keel::mw::security_headers());
    r.use(keel::mw::cors({.allowed_origins = {"https://app.example.com"}}));
    r.use(keel::mw::compress());
}

struct Link {
    std::string url;
    std::string slug;
};
KEEL_JSON(Link, url, slug)

struct CreateLink;
Link make_link(const CreateLink& in);

struct CreateLink {
    std::string url;
    std::optional<std::string> slug;
};
KEEL_JSON(CreateLink, url, slug)

void keel_validate(const CreateLink& in, keel::json::Validator& v) {
    v.length("/url", in.url, 1, 2048);
}

keel::ProblemOr create(keel::Request& req) {
    KEEL_TRY(in, keel::bind<CreateLink>(req));  // or 415, or one 400 listing every bad field
    return keel::json_response(make_link(in), 201);
}

Link make_link(const CreateLink& in) {
    return {in.url, in.slug.value_or("generated")};
}

struct User {
    std::int64_t id = 0;
    std::string name = {};
};
KEEL_DESCRIBE(User, id, name)

void databases(keel::Router& r) {
    keel::postgres::Database db({.max_open = 8}, {.conninfo = "postgresql://app@127.0.0.1/app"});
    r.get("/users/{id}", [&db](keel::Request& req) -> keel::Task<keel::ProblemOr> {
        auto row = co_await db.with(req).query_one<User>("SELECT id, name FROM users WHERE id = $1", req.param("id"));
        KEEL_CO_TRY(user, keel::http::or_problem(std::move(row)));  // no row → 404, database down → 503
        co_return keel::json_response(user);
    });
}

keel::Task<keel::ProblemOr> by_lease(keel::postgres::Database& db, keel::Request& req) {
    auto conn = co_await db.pool().acquire(req.stop_token());
    if (!conn)
        co_return keel::http::to_problem(conn.error());
    auto rows = co_await (*conn)->query("SELECT name FROM users WHERE id = $1", req.param("id"));
    if (!rows || rows->empty())
        co_return keel::Problem{.status = 404, .detail = "no such user"};
    co_return keel::Response::text((*rows)[0].get<std::string>("name"));
}

keel::Task<keel::Result<void>> sqlite_transaction() {
    keel::sqlite::Database db({.file = {.path = "app.db"}});
    auto moved = co_await db.write([](keel::sqlite::Conn& c) -> keel::Result<void> {
        return c.transaction([&]() -> keel::Result<void> {
            KEEL_TRY_VOID(c.execute("UPDATE accounts SET cents = cents - 100 WHERE id = ?1", 1));
            KEEL_TRY_VOID(c.execute("UPDATE accounts SET cents = cents + 100 WHERE id = ?1", 2));
            return {};
        });
    });
    co_return moved;
}

struct Repo {
    keel::Task<keel::Result<std::shared_ptr<const User>>> find_user(std::string id);
};

keel::Task<keel::Result<std::shared_ptr<const User>>> cached_user(Repo& repo, std::string id) {
    keel::cache::LruCache<std::shared_ptr<const User>> users({.max_entries = 100'000, .max_bytes = 64 << 20});
    keel::cache::SingleFlight<keel::Result<std::shared_ptr<const User>>> loads;
    auto user = co_await keel::cache::cache_aside(
        users, loads, id,
        {.entry = {.ttl = 60s, .stale_while_revalidate = 30s, .stale_if_error = 10min},
         .negative_ttl = 5s,
         .is_negative = [](const auto& u) { return u == nullptr; }},
        [&] { return repo.find_user(id); });  // Task<Result<std::shared_ptr<const User>>>
    co_return user;
}

keel::Response follow(keel::Request&) {
    return keel::Response::text("", 302);
}

void rate_limits(keel::Router& r) {
    auto per_ip = std::make_shared<keel::ratelimit::LocalLimiter>(keel::ratelimit::Limit{.rate = 100, .burst = 200});
    r.with({keel::ratelimit::rate_limit(per_ip, keel::ratelimit::client_ip_key)}).get("/{slug}", follow);
}

std::optional<std::string> caller_of(keel::Request&);
keel::Response create_order(keel::Request&);

void idempotency(keel::postgres::Database& db, keel::Router& r) {
    keel::idempotency::PostgresStore keys(db);  // or SqliteStore: the service's own database
    auto once = keel::idempotency::middleware(keys, {.principal = [](keel::Request& req) { return caller_of(req); }});
    r.with({once}).post("/v1/orders", create_order);  // after authentication: keys are per principal
}

keel::Task<void> invalidation(keel::Loop& loop, const keel::redis::Options& options, keel::redis::Client& redis,
                              keel::cache::LruCache<std::string>& cache, const std::string& key) {
    keel::redis::Subscriber sub(
        loop, options, {"invalidate"}, [&](std::string_view /*channel*/, std::string_view key) { cache.erase(key); },
        [&] { cache.clear(); });
    (void)co_await redis.command("PUBLISH", "invalidate", key);  // from any instance
}

keel::Task<void> webhook(keel::Request& req, keel::log::Logger& log, std::string hook, std::string event) {
    keel::client::Client client({.timeout = 2s, .max_retries = 2});
    keel::client::ClientRequest post{.method = "POST",
                                     .url = hook,
                                     .headers = {{"Content-Type", "application/json"}},
                                     .body = event,
                                     .trace = *keel::mw::trace_of(req)};  // sends traceparent
    auto res = co_await client.send(std::move(post));
    if (!res)
        log.warn("webhook", {{"error", res.error().message()}});
}

}  // namespace docs_building_apis
