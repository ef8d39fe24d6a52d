// The PostgreSQL driver against a real server (initdb + pg_ctl in a temp dir): connect,
// prepared queries, typed rows, pipeline, error mapping, migrations, and the pool riding out
// a server restart.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/postgres/postgres.hpp>

#include <support/eventually.hpp>
#include <support/latch.hpp>
#include <support/postgres_server.hpp>

#include <gtest/gtest.h>

#include "support/todo_row.hpp"

namespace {

using namespace std::chrono_literals;
using keel::Result;
using keel::Task;
namespace pg = keel::postgres;

keel::test::PostgresServer* g_server = nullptr;

class PgEnv : public ::testing::Environment {
  public:
    void SetUp() override { g_server = new keel::test::PostgresServer(); }
    void TearDown() override {
        delete g_server;
        g_server = nullptr;
    }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PgEnv);

class Postgres : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string db = "t_" + std::string(info->name());
        for (auto& ch : db) {
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        url_ = g_server->create_database(db);
    }
    std::unique_ptr<pg::Conn> connect() {
        auto c = lt_.block_on([&]() { return pg::Conn::connect({.conninfo = url_}); });
        EXPECT_TRUE(c) << (c ? "" : std::string(c.error().message()));
        return c ? std::move(*c) : nullptr;
    }
    std::string url_;
    keel::LoopThread lt_;
};

TEST_F(Postgres, QueriesWithParametersAndTypedRows) {
    auto conn = connect();
    ASSERT_TRUE(conn);
    auto rows = lt_.block_on([&]() -> Task<Result<pg::Rows>> {
        KEEL_CO_TRY_VOID(co_await conn->exec(
            "CREATE TABLE t (id bigserial PRIMARY KEY, name text NOT NULL, n int, ok boolean, x float8)"));
        for (int i = 1; i <= 3; ++i) {
            KEEL_CO_TRY(r, co_await conn->query("INSERT INTO t (name, n, ok, x) VALUES ($1, $2, $3, $4)",
                                                "n" + std::to_string(i), i == 2 ? std::optional<int>{} : i, i % 2 == 1,
                                                i * 0.5));
            EXPECT_EQ(r.affected(), 1);
        }
        co_return co_await conn->query("SELECT id, name, n, ok, x FROM t WHERE id >= $1 ORDER BY id", 1);
    });
    ASSERT_TRUE(rows) << rows.error().message();
    ASSERT_EQ(rows->size(), 3u);
    auto r0 = (*rows)[0];
    EXPECT_EQ(r0.get<std::int64_t>("id"), 1);
    EXPECT_EQ(r0.get<std::string>("name"), "n1");
    EXPECT_EQ(r0.get<int>("n"), 1);
    EXPECT_TRUE(r0.get<bool>("ok"));
    EXPECT_DOUBLE_EQ(r0.get<double>("x"), 0.5);
    EXPECT_EQ((*rows)[1].get<std::optional<int>>("n"), std::nullopt);
    EXPECT_EQ((*rows)[0].get<std::string>("id"), "1");  // any column reads as text
    EXPECT_EQ(conn->prepared(), 2u);                    // one INSERT, one SELECT, each prepared once
}

TEST_F(Postgres, TypeMismatchAndNullNameTheColumn) {
    auto conn = connect();
    auto rows = lt_.block_on([&]() { return conn->query("SELECT 'abc'::text AS word, NULL::int AS nothing"); });
    ASSERT_TRUE(rows);
    try {
        (void)(*rows)[0].get<std::int64_t>("word");
        FAIL();
    } catch (const keel::db::RowError& e) {
        EXPECT_NE(std::string(e.what()).find("\"word\" is text, cannot read it as an integer"), std::string::npos)
            << e.what();
    }
    try {
        (void)(*rows)[0].get<int>("nothing");
        FAIL();
    } catch (const keel::db::RowError& e) {
        EXPECT_NE(std::string(e.what()).find("\"nothing\" is NULL"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)(*rows)[0].get<int>("missing"), keel::db::RowError);
}

TEST_F(Postgres, ErrorsMapToErrcAndKeepTheConnectionUsable) {
    auto conn = connect();
    auto codes = lt_.block_on([&]() -> Task<std::vector<keel::Errc>> {
        std::vector<keel::Errc> codes;
        (void)co_await conn->exec("CREATE TABLE t (k text PRIMARY KEY, v text NOT NULL)");
        (void)co_await conn->query("INSERT INTO t VALUES ($1, $2)", "a", "x");
        auto dup = co_await conn->query("INSERT INTO t VALUES ($1, $2)", "a", "y");
        codes.push_back(dup ? keel::Errc::internal : dup.error().code());
        auto null = co_await conn->query("INSERT INTO t VALUES ($1, $2)", "b", nullptr);
        codes.push_back(null ? keel::Errc::internal : null.error().code());
        auto syntax = co_await conn->query("SELEKT 1");
        codes.push_back(syntax ? keel::Errc::internal : syntax.error().code());
        auto after = co_await conn->query("SELECT count(*) FROM t");
        codes.push_back(after ? keel::Errc::internal : after.error().code());
        EXPECT_EQ((*after)[0].get<int>(0), 1);
        co_return codes;
    });
    EXPECT_EQ(codes[0], keel::Errc::conflict);
    EXPECT_EQ(codes[1], keel::Errc::invalid_argument);
    EXPECT_EQ(codes[2], keel::Errc::internal);
    EXPECT_EQ(codes[3], keel::Errc::internal);  // the placeholder: the query succeeded
    EXPECT_FALSE(conn->broken());
}

TEST_F(Postgres, PipelineSendsABatchAtomically) {
    auto conn = connect();
    auto out = lt_.block_on([&]() -> Task<Result<std::vector<pg::Rows>>> {
        KEEL_CO_TRY_VOID(co_await conn->exec("CREATE TABLE c (k text PRIMARY KEY, n bigint NOT NULL)"));
        std::vector<pg::Query> batch;
        batch.push_back({"BEGIN", {}});
        for (int i = 0; i < 100; ++i) {
            batch.push_back({"INSERT INTO c VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET n = c.n + EXCLUDED.n",
                             pg::Params::of("k" + std::to_string(i % 10), 1)});
        }
        batch.push_back({"SELECT sum(n)::bigint FROM c", {}});
        batch.push_back({"COMMIT", {}});
        co_return co_await conn->pipeline(std::move(batch));
    });
    ASSERT_TRUE(out) << out.error().message();
    ASSERT_EQ(out->size(), 103u);
    EXPECT_EQ((*out)[101][0].get<std::int64_t>(0), 100);
    // A failing statement aborts the rest of the batch and nothing of it is committed.
    auto failed = lt_.block_on([&]() -> Task<Result<std::vector<pg::Rows>>> {
        std::vector<pg::Query> batch;
        batch.push_back({"BEGIN", {}});
        batch.push_back({"INSERT INTO c VALUES ($1, $2)", pg::Params::of("new", 1)});
        batch.push_back({"INSERT INTO c VALUES ($1, $2)", pg::Params::of("k1", 1)});  // duplicate
        batch.push_back({"COMMIT", {}});
        co_return co_await conn->pipeline(std::move(batch));
    });
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code(), keel::Errc::conflict);
    EXPECT_FALSE(conn->broken());
    EXPECT_EQ(g_server->psql("t_pipelinesendsabatchatomically", "SELECT count(*) FROM c WHERE k = 'new'"), "0");
    auto still = lt_.block_on([&]() { return conn->query("SELECT 1"); });
    EXPECT_TRUE(still) << still.error().message();
}

TEST_F(Postgres, PipelinePreparesMarkedStatementsOnceInTheSameRoundTrip) {
    auto conn = connect();
    auto run_batch = [&](int from) {
        return lt_.block_on([&, from]() -> Task<Result<std::vector<pg::Rows>>> {
            std::vector<pg::Query> batch;
            batch.push_back({"BEGIN", {}});
            for (int i = from; i < from + 5; ++i) {
                batch.push_back({"INSERT INTO p VALUES ($1) ON CONFLICT DO NOTHING RETURNING k",
                                 pg::Params::of("k" + std::to_string(i)), true});
            }
            batch.push_back({"COMMIT", {}});
            co_return co_await conn->pipeline(std::move(batch));
        });
    };
    ASSERT_TRUE(lt_.block_on([&]() { return conn->exec("CREATE TABLE p (k text PRIMARY KEY)"); }));
    auto first = run_batch(0);
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(conn->prepared(), 1u);
    auto second = run_batch(3);  // k3, k4 exist: those rows return nothing
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_EQ(conn->prepared(), 1u);
    ASSERT_EQ(second->size(), 7u);
    EXPECT_TRUE((*second)[1].empty());
    EXPECT_TRUE((*second)[2].empty());
    EXPECT_EQ((*second)[3][0].get<std::string>(0), "k5");
    EXPECT_EQ(g_server->psql("t_pipelinepreparesmarkedstatementsonceinthesameroundtrip", "SELECT count(*) FROM p"),
              "8");
}

TEST_F(Postgres, BinaryRowsReadLikeTextRows) {
    auto conn = connect();
    const std::string sql =
        "SELECT $1::int2 AS i2, $2::int4 AS i4, $3::int8 AS i8, 4000000000::oid AS o, $4::float4 AS f4, "
        "$5::float8 AS f8, $6::bool AS yes, false AS no, 'w\u00f6rd'::text AS t, 'v'::varchar AS v, "
        "NULL::int4 AS nothing, 1.5::numeric AS num, now() AS ts";
    auto results = lt_.block_on([&]() -> Task<Result<std::vector<pg::Rows>>> {
        std::vector<pg::Query> batch;
        for (bool binary : {false, true}) {
            pg::Params params = pg::Params::of(-12345, -2000000000, -9000000000000000000LL, -1.5, 10000000000.25, true);
            pg::Query q{sql, std::move(params), true};
            q.binary_rows = binary;
            batch.push_back(std::move(q));
        }
        co_return co_await conn->pipeline(std::move(batch));
    });
    ASSERT_TRUE(results) << results.error().message();
    ASSERT_EQ(results->size(), 2u);
    for (const pg::Rows& rows : *results) {  // text, then binary: the same values
        auto r = rows[0];
        EXPECT_EQ(r.get<int>("i2"), -12345);
        EXPECT_EQ(r.get<int>("i4"), -2000000000);
        EXPECT_EQ(r.get<std::int64_t>("i8"), -9000000000000000000LL);
        EXPECT_EQ(r.get<std::int64_t>("o"), 4000000000LL);
        EXPECT_EQ(r.get<float>("f4"), -1.5f);
        EXPECT_EQ(r.get<double>("f8"), 10000000000.25);
        EXPECT_EQ(r.get<double>("i4"), -2e9);
        EXPECT_TRUE(r.get<bool>("yes"));
        EXPECT_FALSE(r.get<bool>("no"));
        EXPECT_EQ(r.get<std::string>("t"), "w\xc3\xb6rd");
        EXPECT_EQ(r.get<std::string>("v"), "v");
        EXPECT_EQ(r.get<std::optional<int>>("nothing"), std::nullopt);
    }
    auto text = (*results)[0][0];
    auto binary = (*results)[1][0];
    EXPECT_DOUBLE_EQ(text.get<double>("num"), 1.5);
    EXPECT_EQ(text.get<std::string>("i4"), "-2000000000");
    // In binary, numeric and non-text types read as text would be raw bytes: refused, by name.
    try {
        (void)binary.get<double>("num");
        FAIL();
    } catch (const keel::db::RowError& e) {
        EXPECT_NE(std::string(e.what()).find("\"num\" is numeric, cannot read it as a number from binary rows"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW((void)binary.get<std::string>("i4"), keel::db::RowError);
    EXPECT_THROW((void)binary.get<std::string>("ts"), keel::db::RowError);
    EXPECT_THROW((void)binary.get<std::int64_t>("t"), keel::db::RowError);
    EXPECT_EQ(conn->prepared(), 1u);  // one statement, prepared once, read both ways
}

TEST_F(Postgres, MigrationsApplyOnceAndRefuseANewerDatabase) {
    auto conn = connect();
    const keel::db::Migration m[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x int);"},
        {2, "0002_b.sql", "CREATE TABLE b (x int); INSERT INTO a VALUES (1);"},
    };
    auto applied = lt_.block_on([&]() { return pg::migrate(*conn, m); });
    ASSERT_TRUE(applied) << applied.error().message();
    EXPECT_EQ(*applied, 2);
    auto again = lt_.block_on([&]() { return pg::migrate(*conn, m); });
    EXPECT_EQ(*again, 0);
    auto older = lt_.block_on([&]() { return pg::migrate(*conn, std::span(m).first(1)); });
    ASSERT_FALSE(older);
    EXPECT_EQ(older.error().code(), keel::Errc::conflict);
    const keel::db::Migration bad[] = {m[0], m[1], {3, "0003_bad.sql", "CREATE TABLE c (x int); SELECT * FROM nope;"}};
    auto failed = lt_.block_on([&]() { return pg::migrate(*conn, bad); });
    ASSERT_FALSE(failed);
    EXPECT_NE(std::string(failed.error().message()).find("0003_bad.sql"), std::string::npos);
    std::string db = "t_migrationsapplyonceandrefuseanewerdatabase";
    EXPECT_EQ(g_server->psql(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'c'"), "0");
    EXPECT_EQ(g_server->psql(db, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"),
              "1,2");
}

TEST_F(Postgres, ConnectFailureIsUnavailableWithTheReason) {
    auto c = lt_.block_on([&]() { return pg::Conn::connect({.conninfo = "postgresql://keel@127.0.0.1:1/x"}); });
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), keel::Errc::unavailable);
    EXPECT_NE(std::string(c.error().message()).find("refused"), std::string::npos) << c.error().message();
}

TEST_F(Postgres, PoolRidesOutAServerRestart) {
    auto pool = pg::make_pool(
        {.max_open = 4, .acquire_timeout = 1s, .check_after_idle = 0ms, .reconnect_min = 50ms, .reconnect_max = 200ms},
        {.conninfo = url_, .connect_timeout = 1s, .query_timeout = 2s});
    auto query = [&]() -> Result<std::int64_t> {
        return lt_.block_on([&]() -> Task<Result<std::int64_t>> {
            KEEL_CO_TRY(lease, co_await pool->acquire());
            KEEL_CO_TRY(rows, co_await lease->query("SELECT 41 + $1::int", 1));
            co_return rows[0].get<std::int64_t>(0);
        });
    };
    ASSERT_TRUE(query());
    g_server->stop();
    auto t0 = keel::Clock::now();
    auto down = query();
    auto took = keel::Clock::now() - t0;
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code(), keel::Errc::unavailable) << down.error().message();
    EXPECT_LT(took, 1500ms);  // within the acquire timeout (+ slack), not a hang
    g_server->start();
    Result<std::int64_t> up = keel::Error(keel::Errc::internal, "not tried");
    ASSERT_TRUE(keel::test::eventually([&] { return bool(up = query()); }, 5s)) << up.error().message();
    EXPECT_EQ(*up, 42);
    EXPECT_GE(pool->stats().broken_closed + pool->stats().connect_errors, 1u);
}

TEST_F(Postgres, ManyCoroutinesShareAFewConnections) {
    auto pool = pg::make_pool({.max_open = 4, .acquire_timeout = 5s}, {.conninfo = url_});
    int good = lt_.block_on([&]() -> Task<int> {
        int ok = 0;
        constexpr int kN = 200;
        keel::test::Latch done(kN);
        for (int i = 0; i < kN; ++i) {
            // A coroutine lambda's captures die with the temporary closure: pass by parameter.
            keel::spawn(
                [](keel::db::Pool<pg::Conn>& pool, int i, int& ok, keel::test::Latch& done) -> Task<void> {
                    auto lease = co_await pool.acquire();
                    if (lease) {
                        auto r = co_await (*lease)->query("SELECT $1::int * 2", i);
                        ok += r && (*r)[0].get<int>(0) == i * 2;
                    }
                    done.count_down();
                }(*pool, i, ok, done),
                [](std::exception_ptr) {});
        }
        co_await done.wait();
        co_return ok;
    });
    EXPECT_EQ(good, 200);
    EXPECT_LE(pool->stats().open, 4u);
}

}  // namespace

namespace {

using keel::test::Todo;

const keel::db::Migration kTodoMigrations[] = {
    {1, "0001_todos.sql",
     "CREATE TABLE todos (id bigserial PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false, due "
     "bigint);"},
};

// The same calls and the same struct as the SQLite test (issue 16: one shape for both).
TEST_F(Postgres, QueriesReadRowsIntoDescribedStructsByColumnName) {
    pg::Database db({.max_open = 2}, {.conninfo = url_});
    auto applied = lt_.block_on([&] { return db.migrate(kTodoMigrations); });
    ASSERT_TRUE(applied) << applied.error().message();
    EXPECT_EQ(*applied, 1);
    auto made = lt_.block_on(
        [&] { return db.execute("INSERT INTO todos (title, due) VALUES ($1, $2)", "write docs", 1700000000); });
    ASSERT_TRUE(made) << made.error().message();
    EXPECT_EQ(made->rows_affected, 1);
    ASSERT_TRUE(lt_.block_on([&] { return db.execute("INSERT INTO todos (title, done) VALUES ($1, true)", "ship"); }));

    auto one =
        lt_.block_on([&] { return db.query_one<Todo>("SELECT due, done, title, id FROM todos WHERE id = $1", 1); });
    ASSERT_TRUE(one) << one.error().message();
    EXPECT_EQ(one->id, 1);
    EXPECT_EQ(one->title, "write docs");
    EXPECT_FALSE(one->done);
    EXPECT_EQ(one->due, 1700000000);
    auto all = lt_.block_on([&] { return db.query_all<Todo>("SELECT id, title, done, due FROM todos ORDER BY id"); });
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_TRUE((*all)[1].done);
    EXPECT_EQ((*all)[1].due, std::nullopt);
    auto count = lt_.block_on([&] { return db.query_one<std::int64_t>("SELECT count(*) FROM todos"); });
    ASSERT_TRUE(count);
    EXPECT_EQ(*count, 2);

    auto none =
        lt_.block_on([&] { return db.query_one<Todo>("SELECT id, title, done, due FROM todos WHERE id = $1", 99); });
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code(), keel::Errc::not_found);
    auto dup = lt_.block_on([&] { return db.execute("INSERT INTO todos (id, title) VALUES (1, 'again')"); });
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), keel::Errc::conflict);
    EXPECT_THROW(lt_.block_on([&] { return db.query_one<Todo>("SELECT id, title FROM todos WHERE id = 1"); }),
                 keel::db::RowError);
    db.close();
}

}  // namespace
