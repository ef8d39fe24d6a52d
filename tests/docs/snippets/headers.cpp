// The code examples of keel's public headers (the `///     ` blocks after an empty `///`
// line), each in a context that compiles. docs_test checks that every example of every header
// appears here (or in examples/) line for line. Nothing here runs; it only has to build.
#include <keel/client/client.hpp>
#include <keel/core/collector.hpp>
#include <keel/core/per_loop.hpp>
#include <keel/core/spread_lock.hpp>
#include <keel/db/group_commit.hpp>
#include <keel/db/placeholders.hpp>
#include <keel/db/pool_metrics.hpp>
#include <keel/idempotency/middleware.hpp>
#include <keel/idempotency/postgres_store.hpp>
#include <keel/idempotency/sqlite_store.hpp>
#include <keel/keel.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/postgres/postgres.hpp>
#include <keel/ratelimit/gcra.hpp>
#include <keel/redis/client.hpp>
#include <keel/redis/subscriber.hpp>
#include <keel/testing/recorder.hpp>
#include <keel/testing/test_server.hpp>
#include <keel/tls/server_context.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace docs_headers {

using keel::Request;
using keel::Response;
using keel::Result;
using keel::Task;

struct Todo {
    std::int64_t id = 0;
    std::string title;
    bool done = false;
};
KEEL_DESCRIBE(Todo, id, title, done)  // in Todo's namespace, after the struct

namespace todo {
std::vector<keel::db::Migration> migrations();
}

void log(std::string_view);
void use(int, const std::string&);

// ---- app/app.hpp
namespace app {
int main(int argc, char** argv) {
    keel::App app(argc, argv, {.name = "hello"});
    app.handle([](keel::Request&) { return keel::Response::text("Hello, World!"); });
    return app.run();
}

void migrate(keel::App& app) {
    keel::sqlite::Database db({.file = {.path = app.config().get_string("db.path")}});
    app.migrate(db, todo::migrations());
}
}  // namespace app

// ---- cache/cache_aside.hpp, cache/lru_cache.hpp, cache/singleflight.hpp
namespace cache {
using keel::cache::cache_aside;
using keel::cache::LruCache;
using keel::cache::SingleFlight;

struct Entry {};
struct Link {
    std::string url;
};
struct Repo {
    Task<Result<Entry>> find(std::string slug);
    Task<Result<Link>> find_link(std::string slug);
};

Task<void> aside(LruCache<Entry>& cache, SingleFlight<Result<Entry>>& flight, keel::cache::AsidePolicy<Entry> policy,
                 Repo& repo, std::string slug) {
    auto link = co_await cache_aside(cache, flight, slug, policy,
                                     [&]() -> Task<Result<Entry>> { co_return co_await repo.find(slug); });
    (void)link;
}

std::optional<std::shared_ptr<const Link>> lru(const std::string& slug, std::shared_ptr<const Link> loaded) {
    LruCache<std::shared_ptr<const Link>> links({.max_entries = 100'000, .max_bytes = 64 << 20});
    if (auto hit = links.get(slug))
        return *hit;  // fresh only
    links.put(slug, loaded, {.ttl = 60s, .stale_while_revalidate = 30s, .stale_if_error = 10min}, loaded->url.size());
    return std::nullopt;
}

Task<void> singleflight(Repo& repo, std::string slug) {
    SingleFlight<Result<Link>> flight;
    auto link = co_await flight.run(slug, [&] { return repo.find_link(slug); });
    (void)link;
}
}  // namespace cache

// ---- client/client.hpp
namespace client {
Task<void> get() {
    keel::client::Client client({.timeout = 5s});
    auto res = co_await client.get("http://127.0.0.1:9000/health");
    if (!res)
        log(res.error().message());  // Errc::timeout, unavailable, ...
    else
        use(res->status, res->body);
}
}  // namespace client

// ---- config/config.hpp
namespace config {
using keel::config::Config;
std::int64_t port(int argc, char** argv) {
    Config c("KEEL");
    c.define_int("server.port", 8080, 0, 65535, "TCP port to listen on");
    c.load(argc, argv);  // --server.port 9000, KEEL_SERVER_PORT=9000, [server] port = 9000
    auto port = c.get_int("server.port");
    return port;
}
}  // namespace config

// ---- core/collector.hpp, db/pool_metrics.hpp
namespace collector {
namespace db = keel::db;
std::vector<std::pair<std::string, keel::db::PoolStats>> pools();
struct Repo {
    std::vector<std::pair<std::string, keel::db::PoolStats>> pool_stats();
};
void add(keel::metrics::Registry& registry, keel::App& app, Repo& repo) {
    registry.add_collector(db::pool_collector([&] { return pools(); }));
    app.metrics().add_collector(db::pool_collector([&] { return repo.pool_stats(); }));
}
}  // namespace collector

// ---- core/loop_thread.hpp
namespace loop_thread {
Task<void> flush_forever();
void run(keel::App& app, keel::sqlite::Database& db, const std::vector<keel::db::Migration>& migrations) {
    keel::LoopThread background(&app.workers());
    auto applied = background.block_on([&] { return db.migrate(migrations); });  // a Task's result
    background.spawn([&] { return flush_forever(); });                           // a Task<void>
    (void)applied;
}
}  // namespace loop_thread

// ---- core/offload.hpp
namespace offload {
namespace http = keel::http;
std::string hash_password(const std::string& pw);
Task<keel::ProblemOr> login(std::string pw) {
    auto digest = co_await keel::offload([&] { return hash_password(pw); });
    if (!digest)
        co_return http::Problem{.status = 503, .headers = {{"Retry-After", "1"}}};
    co_return Response::text(*digest);
}
}  // namespace offload

// ---- core/per_loop.hpp
namespace per_loop {
using keel::Loop;
using keel::PerLoop;
struct Connection {
    explicit Connection(Loop&) {}
};
void get() {
    PerLoop<Connection> connections{[&](Loop& loop) { return std::make_unique<Connection>(loop); }};
    Connection& c = connections.get();  // on a loop thread
    (void)c;
}
}  // namespace per_loop

// ---- core/result.hpp
namespace result {
using keel::Result;
struct User {};
void use(const User&);
Result<void> f() {
    Result<User> find(std::int64_t id);  // Error on failure
    auto u = find(7);
    if (!u)
        return u.error();  // or KEEL_TRY(user, find(7));
    use(*u);
    return {};
}
}  // namespace result

// ---- core/spread_lock.hpp
namespace spread_lock {
using keel::SpreadLock;
void read(int);
void f(SpreadLock& lock, int shared) {
    std::size_t slot = SpreadLock::slot();
    lock.lock_shared(slot);  // readers on different threads lock different slots
    read(shared);
    lock.unlock_shared(slot);
    std::lock_guard write(lock);  // lock()/unlock(): exclusive
}
}  // namespace spread_lock

// ---- db/group_commit.hpp
namespace group_commit {
using keel::db::GroupCommit;
struct Link {};
struct Repo {
    Task<std::vector<Result<Link>>> insert_all(std::vector<Link>& batch);
};
Task<void> f(Repo& repo, Link link) {
    GroupCommit<Link, Result<Link>> inserts(
        [&](std::vector<Link>& batch) -> Task<std::vector<Result<Link>>> { return repo.insert_all(batch); },
        {.max_batch = 128});
    auto saved = co_await inserts.submit(link);
    (void)saved;
}
}  // namespace group_commit

// ---- db/pool.hpp
namespace pool {
namespace db = keel::db;
namespace pg = keel::postgres;
Task<Result<void>> f(db::PoolOptions options, db::Pool<pg::Conn>::ConnectFn connect, db::Pool<pg::Conn>::PingFn ping,
                     Request& req, std::int64_t id) {
    db::Pool<pg::Conn> pool(options, connect, ping);
    auto lease = co_await pool.acquire(req.stop_token());  // Result<Pool::Lease>
    if (!lease)
        co_return lease.error();  // Errc::timeout: the pool stayed full
    auto rows = co_await (*lease)->query("SELECT title FROM todos WHERE id = $1", id);
    (void)rows;
    co_return Result<void>{};
}
}  // namespace pool

// ---- db/placeholders.hpp
namespace placeholders {
namespace db = keel::db;
struct Row {
    std::int64_t a = 0;
};
KEEL_DESCRIBE(Row, a)
Task<void> f(keel::postgres::Conn& conn, std::int64_t id) {
    auto row = co_await conn.query_one<Row>(db::postgres_placeholders("SELECT a FROM t WHERE id = ?1"), id);
    (void)row;
}
}  // namespace placeholders

// ---- db/queries.hpp, db/scan.hpp
namespace queries {
Task<void> f(keel::sqlite::Database& db, Request& req, std::string sql, std::int64_t id) {
    auto todo = co_await db.with(req).query_one<Todo>(sql, id);  // given up with the request
    auto all = co_await db.query_all<Todo>(sql);                 // never given up
    (void)todo;
    (void)all;
}
}  // namespace queries

namespace scan {
struct Todo {
    std::int64_t id = 0;
    std::string title;
    bool done = false;
};
KEEL_DESCRIBE(Todo, id, title, done)
Task<bool> f(keel::sqlite::Database& db, std::int64_t id) {
    auto todo = co_await db.query_one<Todo>("SELECT id, title, done FROM todos WHERE id = ?1", id);
    bool missing = !todo && todo.error() == keel::Errc::not_found;  // db::errors::kNoRows
    co_return missing;
}
}  // namespace scan

// ---- http/json.hpp, http/problem.hpp, http/query.hpp, http/response.hpp
namespace http_side {
namespace http = keel::http;
using keel::http::or_problem;
using keel::http::Problem;

struct CreateLink {
    std::string url;
};
KEEL_JSON(CreateLink, url)
struct Link {
    std::string url;
};
KEEL_JSON(Link, url)
Link make(const CreateLink& in) {
    return {in.url};
}

Result<Response, Problem> create(Request& req) {
    KEEL_TRY(in, http::bind<CreateLink>(req));  // 415 or one 400 listing every bad field
    return http::json_response(make(in), 201);
}

Result<std::int64_t, Problem> parse_id(std::string_view);
bool exists(std::int64_t id);

Result<Response, Problem> get_user(Request& req) {
    KEEL_TRY(id, parse_id(req.param("id")));  // Result<std::int64_t, Problem>
    if (!exists(id))
        return Problem{.status = 404, .detail = "no such user"};
    return Response::text("user " + std::to_string(id));
}

struct User {
    std::int64_t id = 0;
};
KEEL_DESCRIBE(User, id)
Task<keel::ProblemOr> get(keel::sqlite::Database& db, Request& req, std::string sql, std::int64_t id) {
    KEEL_CO_TRY(user, or_problem(co_await db.with(req).query_one<User>(sql, id)));
    co_return keel::json_response(user);
}

Response limit(Request& req) {
    auto limit = keel::http::query_scalar(req.query(), "limit");  // Result<optional<string>>
    if (!limit)
        return keel::http::problem(400, limit.error().message());  // repeated or bad %XX
    return Response::text(limit->value_or("10"));
}

Response respond() {  // two alternatives, as the header shows them
    return Response::text("Hello, World!");
    return Response::json(R"({"id":7})", 201).header("Location", "/users/7");
}
}  // namespace http_side

// ---- idempotency/*.hpp
namespace idempotency_examples {
namespace idempotency = keel::idempotency;
std::optional<std::string> api_key_of(Request&);
Response create_order(Request&);
void route(keel::sqlite::Database& db, keel::Router& r) {
    idempotency::SqliteStore keys(db);
    auto once = idempotency::middleware(keys, {.principal = [](Request& req) { return api_key_of(req); }});
    r.with({once}).post("/v1/orders", create_order);
}
Task<void> sqlite_keys(keel::sqlite::Database& db) {
    idempotency::SqliteStore keys(db);  // sqlite::Database
    co_await keys.migrate();
}
Task<void> postgres_keys(keel::postgres::Database& db) {
    idempotency::PostgresStore keys(db);  // postgres::Database
    co_await keys.migrate();
}
}  // namespace idempotency_examples

// ---- json/*.hpp
namespace json_side {
namespace json = keel::json;
struct Link {
    std::string url;
    std::optional<std::string> slug;
    std::vector<std::string> tags;
};
KEEL_JSON(Link, url, slug, tags)  // in Link's namespace, after the struct

enum class Color { red, green };
KEEL_JSON_ENUM(Color, red, green)  // written and read as "red" / "green"

void clear_expiry();
void set_expiry(const std::string&);
struct LinkUpdate {
    std::optional<std::string> url;
    keel::json::Nullable<std::string> expires_at;
};

void nullable(const LinkUpdate& in) {
    if (in.expires_at.is_null())
        clear_expiry();
    else if (in.expires_at)
        set_expiry(*in.expires_at);
}

struct CreateLink {
    std::string url;
    std::optional<std::string> slug;
};
KEEL_JSON(CreateLink, url, slug)
inline const std::regex kSlugRe("[A-Za-z0-9_-]{3,64}");
bool is_reserved(const std::optional<std::string>& slug);

void keel_validate(const CreateLink& in, keel::json::Validator& v) {  // found by ADL
    v.length("/url", in.url, 1, 2048);
    if (in.slug)
        v.pattern("/slug", *in.slug, kSlugRe, "3-64 letters, digits, '_' or '-'");
    v.check(!is_reserved(in.slug), "/slug", "is reserved");
}

void parse(std::string_view text) {
    CreateLink in;
    json::Errors errors;
    if (!json::parse(text, in, errors)) { /* malformed: errors[0] names the byte offset */
    } else if (!errors.empty()) {         /* [{"/url", "is required"}, {"/slug", "must be ..."}] */
    }
}

std::string write() {
    std::string out;
    keel::json::Writer w(out);
    w.begin_object().key("id").value(7).key("tags").begin_array().value("a").end_array().end_object();
    return out;
}
}  // namespace json_side

// ---- observe/*.hpp
namespace observe {
namespace metrics = keel::metrics;
using keel::Task;
struct Repo {
    Task<Result<void>> ping();
};
void health(keel::observe::Health& health, Repo& repo) {
    health.add_check("database", [&]() -> Task<Result<void>> { co_return co_await repo.ping(); });
}

void log(keel::log::Logger& log) {
    log.info("listening", {{"addr", "127.0.0.1:8080"}, {"threads", 2}});
    // → {"ts":"2026-11-29T19:30:00.123Z","level":"info","msg":"listening","addr":"127.0.0.1:8080","threads":2}
}

std::string registry() {
    metrics::Registry reg;
    auto& created = reg.counter("linkd_links_created_total", "Links created.");
    auto& requests = reg.counter("keel_http_requests_total", "Requests.", {"method", "route", "code"});
    created.get().inc();
    requests.with({"GET", "/v1/links/{slug}", "2xx"}).inc();  // look the series up once, keep it
    reg.histogram("x_duration_seconds", "…", {}, metrics::default_buckets()).get().observe(0.003);
    std::string body = reg.scrape();
    return body;
}
}  // namespace observe

// ---- postgres/postgres.hpp
namespace postgres {
namespace postgres = keel::postgres;
void use(const std::string&, std::int64_t);
Task<Result<void>> lease(keel::db::Pool<keel::postgres::Conn>& pool, std::string slug) {
    auto lease = co_await pool.acquire();  // db::Pool<pg::Conn>
    KEEL_CO_TRY(conn, std::move(lease));
    auto rows = co_await conn->query("SELECT url, clicks FROM links WHERE slug = $1", slug);
    if (!rows)
        co_return rows.error();  // Errc::unavailable, ...
    for (auto row : *rows)
        use(row.get<std::string>(0), row.get<std::int64_t>(1));
    co_return Result<void>{};
}

Task<void> database(Request& req, std::int64_t id) {
    postgres::Database db({.max_open = 8}, {.conninfo = "postgresql://app@127.0.0.1/app"});
    auto todo = co_await db.with(req).query_one<Todo>("SELECT id, title, done FROM todos WHERE id = $1", id);
    (void)todo;
}
}  // namespace postgres

// ---- ratelimit/*.hpp
namespace ratelimit {
using namespace keel::ratelimit;
bool allowed(keel::TimePoint& tat, keel::TimePoint now) {
    Limit creation{.rate = 2.0, .burst = 10};  // 10 at once, then 2 per second
    Decision d = gcra(tat, now, creation);     // updates tat when allowed
    return d.allowed;
}

Response follow(Request&);
void routes(keel::Router& r) {
    auto per_ip = std::make_shared<LocalLimiter>(Limit{.rate = 100, .burst = 200});
    r.with({rate_limit(per_ip, client_ip_key)}).get("/{slug}", follow);
}
}  // namespace ratelimit

// ---- redis/*.hpp
namespace redis {
Task<void> set(std::string key, std::string value) {
    keel::redis::Client redis({.host = "127.0.0.1", .port = 6379});
    auto r = co_await redis.command("SET", key, value, "EX", "60");
    if (!r)
        log(r.error().message());  // Errc::unavailable, timeout
    else if (r->is_error())
        log(r->str);  // a Redis error reply
}

void subscribe(keel::Loop& loop, const keel::redis::Options& options, keel::cache::LruCache<std::string>& cache) {
    keel::redis::Subscriber sub(
        loop, options, {"invalidate"},
        [&](std::string_view /*channel*/, std::string_view message) { cache.erase(message); },
        [&] { cache.clear(); });  // (re)subscribed: what was published meanwhile is lost
}
}  // namespace redis

// ---- router/router.hpp
namespace router {
using Router = keel::router::Router;
Response get_user(Request&);
Response create_link(Request&);
void routes(keel::App& app, keel::Middleware auth) {
    keel::router::Router r;
    r.use(keel::mw::request_id());  // wraps everything, 404/405 included
    r.get("/users/{id:[0-9]+}", get_user);
    r.group("/v1", [&](Router& v1) {
        v1.use(auth);  // only these routes
        v1.post("/links", create_link);
    });
    app.handle(r.handler());
}
}  // namespace router

// ---- sqlite/sqlite.hpp
namespace sqlite {
namespace sqlite = keel::sqlite;
Task<void> f(std::int64_t id, std::string title) {
    sqlite::Database db({.file = {.path = "todo.db"}});
    co_await db.migrate(todo::migrations());  // Result<int>
    auto todo = co_await db.query_one<Todo>("SELECT id, title, done FROM todos WHERE id = ?1", id);
    auto all = co_await db.query_all<Todo>("SELECT id, title, done FROM todos ORDER BY id");
    auto made = co_await db.execute("INSERT INTO todos (title) VALUES (?1)", title);
    // made->last_insert_id, made->rows_affected
}
}  // namespace sqlite

// ---- tls/server_context.hpp
namespace tls {
int fail(std::string_view) {
    return 1;
}
int f() {
    auto tls = keel::tls::ServerContext::create({.certificates = {{"cert.pem", "key.pem"}}});
    if (!tls)
        return fail(tls.error().message());  // the file and OpenSSL's reason
    keel::server::ServerOptions options;
    options.tls = *tls;
    return 0;
}
}  // namespace tls

// ---- testing/*.hpp
// keel/http/body_stream.hpp
keel::Task<keel::ProblemOr> upload(keel::Request& req) {
    std::uint64_t total = 0;
    for (;;) {
        KEEL_CO_TRY(piece, co_await req.body_stream()->read());
        if (piece.empty()) {
            break;  // the whole body was read
        }
        total += piece.size();  // or write it to a file, a hash, a database...
    }
    co_return keel::Response::text(std::to_string(total));
}

namespace testing {
void call(const keel::Handler& handler) {
    auto res = keel::testing::call(handler, keel::testing::TestRequest{"POST", "/echo"}
                                                .with_header("Content-Type", "application/json")
                                                .with_body(R"({"name":"x"})"));
    EXPECT_EQ(res.status, 200);
}

void serve(const keel::Handler& handler) {
    keel::testing::TestServer srv(handler);
    auto res = keel::testing::RawClient(srv.port()).exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    (void)res;
}
}  // namespace testing

}  // namespace docs_headers
