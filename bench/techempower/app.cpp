// bench/techempower/app: the seven test types of the TechEmpower Framework Benchmarks on keel,
// on PostgreSQL (a pool of non-blocking libpq connections, the queries of one request sent in
// one pipeline) or on SQLite (the worker pool), following the suite's rules:
//
//   GET /plaintext            "Hello, World!" as text/plain
//   GET /json                 {"message":"Hello, World!"}, serialized per request
//   GET /db                   one random World row (ids 1..10,000)
//   GET /queries?queries=N    N random rows, one query each (N clamped to 1..500; not a number: 1)
//   GET /fortunes             every Fortune plus one added at request time, sorted by message,
//                             as an HTML table (messages escaped)
//   GET /updates?queries=N    N random rows read one by one, each given a new random number,
//                             written back, returned
//   GET /cached-queries?count=N  N random rows from an in-memory copy of World
//
// Every response has Server and Date headers. The tables are created and filled at start-up
// (migrations) when missing.
//
//     techempower --te.database sqlite:/tmp/te.db
//     techempower --te.database postgresql://bench@127.0.0.1:5432/bench --te.pool 16
#include <keel/core/loop_thread.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/db/migrate.hpp>
#include <keel/db/scan.hpp>
#include <keel/http/json.hpp>
#include <keel/http/query.hpp>
#include <keel/json/describe.hpp>
#include <keel/keel.hpp>
#include <keel/postgres/postgres.hpp>
#include <keel/sqlite/sqlite.hpp>
#include <keel/web/html.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace te {

struct World {
    std::int32_t id = 0;
    std::int32_t randomNumber = 0;
};
KEEL_JSON(World, id, randomNumber)

struct Fortune {
    std::int32_t id = 0;
    std::string message;
};
KEEL_JSON(Fortune, id, message)

constexpr int kWorldRows = 10'000;

int random_id() {
    thread_local std::minstd_rand rng(std::random_device{}());
    return std::uniform_int_distribution<int>(1, kWorldRows)(rng);
}

/// The suite's rule for `queries` / `count`: a number clamped to 1..500; anything else is 1.
int query_count(const keel::Request& req, std::string_view name) {
    auto value = keel::http::query_scalar(req.query(), name);
    int n = 1;
    if (value && *value) {
        const std::string& text = **value;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec != std::errc() || end != text.data() + text.size()) {
            n = 1;
        }
    }
    return std::clamp(n, 1, 500);
}

// The schema and its rows, applied at start-up by App::migrate when missing (World: 10,000
// rows with random numbers 1..10,000; Fortune: the suite's 12 messages, escaped on output).
constexpr std::string_view kFortuneRows =
    "INSERT INTO fortune (id, message) VALUES "
    "(1, 'fortune: No such file or directory'),"
    "(2, 'A computer scientist is someone who fixes things that aren''t broken.'),"
    "(3, 'After enough decimal places, nobody gives a damn.'),"
    "(4, 'A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1'),"
    "(5, 'A computer program does what you tell it to do, not what you want it to do.'),"
    "(6, 'Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen'),"
    "(7, 'Any program that runs right is obsolete.'),"
    "(8, 'A list is only as strong as its weakest link. \u2014 Donald Knuth'),"
    "(9, 'Feature: A bug with seniority.'),"
    "(10, 'Computers make very fast, very accurate mistakes.'),"
    "(11, '<script>alert(\"This should not be displayed in a browser alert box.\");</script>'),"
    "(12, '\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af');";

const std::array<keel::db::Migration, 2> kPostgresSchema = {{
    {1, "0001_tables.sql",
     "CREATE TABLE world (id integer PRIMARY KEY, randomnumber integer NOT NULL);"
     "CREATE TABLE fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL);"
     "INSERT INTO world (id, randomnumber) SELECT i, 1 + floor(random() * 10000)::int FROM generate_series(1, 10000) "
     "AS i;"},
    {2, "0002_fortunes.sql", kFortuneRows},
}};

const std::array<keel::db::Migration, 2> kSqliteSchema = {{
    {1, "0001_tables.sql",
     "CREATE TABLE World (id INTEGER PRIMARY KEY, randomNumber INTEGER NOT NULL);"
     "CREATE TABLE Fortune (id INTEGER PRIMARY KEY, message TEXT NOT NULL);"
     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) "
     "INSERT INTO World (id, randomNumber) SELECT i, 1 + abs(random()) % 10000 FROM n;"},
    {2, "0002_fortunes.sql", kFortuneRows},
}};

/// The tables, on PostgreSQL or SQLite.
class Store {
  public:
    virtual ~Store() = default;
    virtual keel::Task<keel::Result<std::vector<World>>> worlds(std::vector<int> ids) = 0;
    virtual keel::Task<keel::Result<std::vector<Fortune>>> fortunes() = 0;
    virtual keel::Task<keel::Result<void>> update(std::vector<World> rows) = 0;
};

class PostgresStore final : public Store {
  public:
    PostgresStore(const std::string& conninfo, std::size_t pool)
        : db_({.max_open = pool, .max_idle = pool}, {.conninfo = conninfo}) {}

    keel::Task<keel::Result<std::vector<World>>> worlds(std::vector<int> ids) override {
        KEEL_CO_TRY(conn, co_await db_.acquire());
        std::vector<keel::postgres::Query> batch;
        batch.reserve(ids.size());
        for (int id : ids) {
            keel::postgres::Query q;
            q.sql = "SELECT id, randomnumber FROM world WHERE id = $1";
            q.params = keel::postgres::Params::of(id);
            q.prepared = true;
            q.binary_rows = true;  // two integers: no text formatting on the server, no parsing here
            batch.push_back(std::move(q));
        }
        KEEL_CO_TRY(results, co_await conn->pipeline(std::move(batch)));  // one round trip, one query per row
        std::vector<World> out;
        out.reserve(results.size());
        for (const keel::postgres::Rows& rows : results) {
            if (rows.empty()) {
                co_return keel::Error(keel::Errc::not_found, "no such world row");
            }
            out.push_back({rows[0].get<std::int32_t>(0), rows[0].get<std::int32_t>(1)});
        }
        co_return out;
    }

    keel::Task<keel::Result<std::vector<Fortune>>> fortunes() override {
        KEEL_CO_TRY(conn, co_await db_.acquire());
        KEEL_CO_TRY(rows, co_await conn->query("SELECT id, message FROM fortune"));
        std::vector<Fortune> out;
        out.reserve(rows.size() + 1);
        for (keel::postgres::Row row : rows) {
            out.push_back({row.get<std::int32_t>(0), row.get<std::string>(1)});
        }
        co_return out;
    }

    keel::Task<keel::Result<void>> update(std::vector<World> rows) override {
        // Sorted by id: concurrent requests touching the same rows lock them in the same order.
        // Stable: an id drawn twice is written in the order answered, so its last value stays.
        std::stable_sort(rows.begin(), rows.end(), [](const World& a, const World& b) { return a.id < b.id; });
        KEEL_CO_TRY(conn, co_await db_.acquire());
        std::vector<keel::postgres::Query> batch;
        batch.reserve(rows.size());
        for (const World& w : rows) {
            keel::postgres::Query q;
            q.sql = "UPDATE world SET randomnumber = $2 WHERE id = $1";
            q.params = keel::postgres::Params::of(w.id, w.randomNumber);
            q.prepared = true;
            batch.push_back(std::move(q));
        }
        KEEL_CO_TRY(results, co_await conn->pipeline(std::move(batch)));
        (void)results;
        co_return keel::Result<void>{};
    }

    keel::postgres::Database db_;
};

class SqliteStore final : public Store {
  public:
    explicit SqliteStore(const std::string& path) : db_({.file = {.path = path}}) {}

    keel::Task<keel::Result<std::vector<World>>> worlds(std::vector<int> ids) override {
        return db_.read([ids = std::move(ids)](keel::sqlite::Conn& c) -> keel::Result<std::vector<World>> {
            std::vector<World> out;
            out.reserve(ids.size());
            for (int id : ids) {  // one query per row, on one reader, in one trip to the worker pool
                KEEL_TRY(w, c.query_one<World>("SELECT id, randomNumber FROM World WHERE id = ?1", id));
                out.push_back(w);
            }
            return out;
        });
    }

    keel::Task<keel::Result<std::vector<Fortune>>> fortunes() override {
        return db_.query_all<Fortune>("SELECT id, message FROM Fortune");
    }

    keel::Task<keel::Result<void>> update(std::vector<World> rows) override {
        return db_.write([rows = std::move(rows)](keel::sqlite::Conn& c) -> keel::Result<void> {
            return c.transaction([&]() -> keel::Result<void> {
                for (const World& w : rows) {
                    KEEL_TRY(done, c.execute("UPDATE World SET randomNumber = ?2 WHERE id = ?1", w.id, w.randomNumber));
                    (void)done;
                }
                return {};
            });
        });
    }

    keel::sqlite::Database db_;
};

// The suite wants a Server header on every response (keel sends Date itself).
keel::Response served(keel::Response res) {
    res.header("Server", "keel");
    return res;
}

keel::Response json_of(const auto& value) {
    return served(keel::http::json_response(value));
}

keel::Response fortunes_page(std::vector<Fortune> rows) {
    rows.push_back({0, "Additional fortune added at request time."});
    std::sort(rows.begin(), rows.end(), [](const Fortune& a, const Fortune& b) { return a.message < b.message; });
    keel::Response res(200);
    res.content_type("text/html; charset=utf-8");
    std::string& html = res.body_buffer();
    html.reserve(1200);
    html +=
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>";
    for (const Fortune& f : rows) {
        html += "<tr><td>";
        html += std::to_string(f.id);
        html += "</td><td>";
        keel::web::append_html_escaped(html, f.message);
        html += "</td></tr>";
    }
    html += "</table></body></html>";
    return served(std::move(res));
}

std::vector<int> random_ids(int n) {
    std::vector<int> ids(static_cast<std::size_t>(n));
    std::generate(ids.begin(), ids.end(), random_id);
    return ids;
}

}  // namespace te

int main(int argc, char** argv) {
    keel::App app(argc, argv, {.name = "techempower", .env_prefix = "TE", .define = [](keel::config::Config& c) {
                                   c.define_string("te.database", "sqlite:techempower.db",
                                                   "sqlite:PATH, or a PostgreSQL URL (postgresql://...)", {}, true);
                                   c.define_int("te.pool", 16, 1, 1024, "PostgreSQL connections");
                               }});
    std::string database = app.config().get_string("te.database");
    std::unique_ptr<te::Store> store;
    if (database.starts_with("sqlite:")) {
        auto s = std::make_unique<te::SqliteStore>(database.substr(7));
        app.migrate(s->db_, te::kSqliteSchema);
        store = std::move(s);
    } else {
        auto s = std::make_unique<te::PostgresStore>(database, app.config().get_int<std::size_t>("te.pool"));
        app.migrate(s->db_, te::kPostgresSchema);
        store = std::move(s);
    }
    // /cached-queries: World read once into memory (rows the cached test reads never change).
    std::vector<te::World> cache;
    {
        std::vector<int> all(te::kWorldRows);
        for (int i = 0; i < te::kWorldRows; ++i) {
            all[static_cast<std::size_t>(i)] = i + 1;
        }
        keel::WorkerPool workers;
        keel::LoopThread loop(&workers);
        auto rows = loop.block_on([&] { return store->worlds(all); });
        if (!rows) {
            std::fprintf(stderr, "techempower: cannot read World: %s\n", std::string(rows.error().message()).c_str());
            return 1;
        }
        cache = std::move(*rows);
    }

    keel::Router r;
    r.get("/plaintext", [](keel::Request&) { return te::served(keel::Response::text("Hello, World!")); });
    r.get("/json", [](keel::Request&) {
        keel::Response res(200);
        res.content_type("application/json");
        keel::json::Writer(res.body_buffer()).begin_object().key("message").value("Hello, World!").end_object();
        return te::served(std::move(res));
    });
    te::Store& db = *store;
    r.get("/db", [&db](keel::Request&) -> keel::Task<keel::ProblemOr> {
        KEEL_CO_TRY(rows, keel::http::or_problem(co_await db.worlds(te::random_ids(1))));
        co_return te::json_of(rows[0]);
    });
    r.get("/queries", [&db](keel::Request& req) -> keel::Task<keel::ProblemOr> {
        KEEL_CO_TRY(rows, keel::http::or_problem(co_await db.worlds(te::random_ids(te::query_count(req, "queries")))));
        co_return te::json_of(rows);
    });
    r.get("/fortunes", [&db](keel::Request&) -> keel::Task<keel::ProblemOr> {
        KEEL_CO_TRY(rows, keel::http::or_problem(co_await db.fortunes()));
        co_return te::fortunes_page(std::move(rows));
    });
    r.get("/updates", [&db](keel::Request& req) -> keel::Task<keel::ProblemOr> {
        KEEL_CO_TRY(rows, keel::http::or_problem(co_await db.worlds(te::random_ids(te::query_count(req, "queries")))));
        for (te::World& w : rows) {
            w.randomNumber = te::random_id();
        }
        KEEL_CO_TRY_VOID(keel::http::or_problem(co_await db.update(rows)));
        co_return te::json_of(rows);
    });
    r.get("/cached-queries", [&cache](keel::Request& req) {
        std::vector<te::World> rows;
        int n = te::query_count(req, "count");
        rows.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            rows.push_back(cache[static_cast<std::size_t>(te::random_id() - 1)]);
        }
        return te::json_of(rows);
    });
    app.handle(r.handler());
    return app.run();
}
