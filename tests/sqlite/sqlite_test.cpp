// The SQLite driver against real database files: statements, typed rows, error mapping,
// migrations, and the Database pools running calls on the WorkerPool.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/sqlite/sqlite.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

namespace {

using keel::Result;
using keel::Task;
namespace sqlite = keel::sqlite;

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/keel-sqlite-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const char* name) const { return (path / name).string(); }
};

const keel::db::Migration kMigrations[] = {
    {1, "0001_items.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER);"},
    {2, "0002_price.sql", "ALTER TABLE items ADD COLUMN price REAL;"},
};

TEST(Sqlite, StatementsBindAndReadTypedColumns) {
    TempDir dir;
    auto conn = sqlite::Conn::open({.path = dir.file("a.db")});
    ASSERT_TRUE(conn) << conn.error().message();
    auto& c = **conn;
    ASSERT_TRUE(c.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, x REAL)"));
    {
        auto st = c.prepare("INSERT INTO t (name, n, x) VALUES (?1, ?2, ?3)");
        ASSERT_TRUE(st);
        st->bind_all(std::string("héllo"), std::int64_t{42}, 1.5);
        auto changed = st->run();
        ASSERT_TRUE(changed);
        EXPECT_EQ(*changed, 1);
    }
    {
        auto st = c.prepare("INSERT INTO t (name, n, x) VALUES (?1, ?2, ?3)");  // from the cache
        st->bind_all(nullptr, std::optional<std::int64_t>{}, 2.0);
        ASSERT_TRUE(st->run());
    }
    auto st = c.prepare("SELECT name, n, x FROM t ORDER BY id");
    ASSERT_TRUE(st);
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->get<std::string>(0), "héllo");
    EXPECT_EQ(st->get<std::int64_t>(1), 42);
    EXPECT_DOUBLE_EQ(st->get<double>(2), 1.5);
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->get<std::optional<std::string>>(0), std::nullopt);
    EXPECT_EQ(st->get<std::optional<std::int64_t>>(1), std::nullopt);
    EXPECT_FALSE(*st->step());
}

TEST(Sqlite, TypeMismatchNamesTheColumn) {
    TempDir dir;
    auto conn = sqlite::Conn::open({.path = dir.file("a.db")});
    auto& c = **conn;
    ASSERT_TRUE(c.exec("CREATE TABLE t (name TEXT); INSERT INTO t VALUES ('abc'), (NULL)"));
    auto st = c.prepare("SELECT name FROM t");
    ASSERT_TRUE(*st->step());
    try {
        (void)st->get<std::int64_t>(0);
        FAIL() << "expected RowError";
    } catch (const keel::db::RowError& e) {
        EXPECT_NE(std::string(e.what()).find("(name) is text, cannot read it as an integer"), std::string::npos)
            << e.what();
    }
    ASSERT_TRUE(*st->step());
    EXPECT_THROW((void)st->get<std::string>(0), keel::db::RowError);  // NULL into a non-optional
}

TEST(Sqlite, ErrorsMapToErrc) {
    TempDir dir;
    auto conn = sqlite::Conn::open({.path = dir.file("a.db")});
    auto& c = **conn;
    ASSERT_TRUE(c.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)"));
    ASSERT_TRUE(c.exec("INSERT INTO t VALUES ('a', 'x')"));
    auto dup = c.exec("INSERT INTO t VALUES ('a', 'y')");
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), keel::Errc::conflict);
    EXPECT_NE(std::string(dup.error().message()).find("UNIQUE"), std::string::npos);
    auto null = c.exec("INSERT INTO t VALUES ('b', NULL)");
    EXPECT_EQ(null.error().code(), keel::Errc::invalid_argument);
    auto bad = c.prepare("SELEKT 1");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), keel::Errc::internal);
    EXPECT_NE(std::string(bad.error().message()).find("syntax error"), std::string::npos);
    EXPECT_FALSE(c.broken());
}

TEST(Sqlite, OpensInWalMode) {
    TempDir dir;
    auto conn = sqlite::Conn::open({.path = dir.file("a.db")});
    auto st = (*conn)->prepare("PRAGMA journal_mode");
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->get<std::string>(0), "wal");
}

TEST(Sqlite, MigrationsApplyOnceAndRecordVersions) {
    TempDir dir;
    auto conn = sqlite::Conn::open({.path = dir.file("a.db")});
    auto& c = **conn;
    auto first = sqlite::migrate(c, std::span(kMigrations).first(1));
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(*first, 1);
    auto second = sqlite::migrate(c, kMigrations);
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, 1);
    auto again = sqlite::migrate(c, kMigrations);
    EXPECT_EQ(*again, 0);
    auto st = c.prepare("SELECT group_concat(version || ':' || name, ',') FROM schema_migrations");
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->get<std::string>(0), "1:0001_items.sql,2:0002_price.sql");
    ASSERT_TRUE(c.exec("INSERT INTO items (name, price) VALUES ('x', 2.5)"));
}

TEST(Sqlite, RefusesADatabaseNewerThanTheBinary) {
    TempDir dir;
    auto conn = sqlite::Conn::open({.path = dir.file("a.db")});
    auto& c = **conn;
    ASSERT_TRUE(sqlite::migrate(c, kMigrations));
    auto older_binary = sqlite::migrate(c, std::span(kMigrations).first(1));
    ASSERT_FALSE(older_binary);
    EXPECT_EQ(older_binary.error().code(), keel::Errc::conflict);
    EXPECT_NE(std::string(older_binary.error().message()).find("schema version 2"), std::string::npos)
        << older_binary.error().message();
}

TEST(Sqlite, AFailingMigrationLeavesNothingBehind) {
    TempDir dir;
    auto conn = sqlite::Conn::open({.path = dir.file("a.db")});
    auto& c = **conn;
    const keel::db::Migration broken[] = {
        {1, "0001_ok.sql", "CREATE TABLE a (x INTEGER);"},
        {2, "0002_bad.sql", "CREATE TABLE b (x INTEGER); INSERT INTO nope VALUES (1);"},
    };
    auto r = sqlite::migrate(c, broken);
    ASSERT_FALSE(r);
    EXPECT_NE(std::string(r.error().message()).find("0002_bad.sql"), std::string::npos);
    auto st = c.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('a', 'b')");
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->get<int>(0), 0);
}

TEST(Sqlite, DatabaseRunsCallsOnWorkersNotOnTheLoop) {
    TempDir dir;
    keel::WorkerPool workers(2, 64);
    keel::LoopThread lt(&workers);
    sqlite::Database db({.file = {.path = dir.file("a.db")}});
    auto loop_thread = lt.block_on([]() -> Task<std::thread::id> { co_return std::this_thread::get_id(); });
    auto result = lt.block_on([&]() -> Task<Result<std::int64_t>> {
        auto w = co_await db.write([&](sqlite::Conn& c) -> Result<void> {
            EXPECT_NE(std::this_thread::get_id(), loop_thread);
            KEEL_TRY_VOID(c.exec("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)"));
            return {};
        });
        if (!w) {
            co_return std::move(w).error();
        }
        co_return co_await db.read([](sqlite::Conn& c) -> Result<std::int64_t> {
            KEEL_TRY(st, c.prepare("SELECT sum(n) FROM t"));
            KEEL_TRY(row, st.step());
            return row ? st.get<std::int64_t>(0) : 0;
        });
    });
    ASSERT_TRUE(result) << result.error().message();
    EXPECT_EQ(*result, 6);
    EXPECT_EQ(db.writer_stats().open, 1u);
    EXPECT_EQ(db.reader_stats().open, 1u);
}

TEST(Sqlite, ConcurrentWritersAreSerializedAndNothingIsLost) {
    TempDir dir;
    keel::WorkerPool workers(4, 1024);
    keel::LoopThread lt(&workers);
    sqlite::Database db({.file = {.path = dir.file("a.db")}});
    int ok = lt.block_on([&]() -> Task<int> {
        (void)co_await db.write([](sqlite::Conn& c) { return c.exec("CREATE TABLE t (n INTEGER)"); });
        int done = 0, good = 0;
        constexpr int kN = 200;
        for (int i = 0; i < kN; ++i) {
            // A coroutine lambda's captures die with the temporary closure: pass by parameter.
            keel::spawn(
                [](sqlite::Database& db, int i, int& good, int& done) -> Task<void> {
                    auto r = co_await db.write([i](sqlite::Conn& c) -> Result<std::int64_t> {
                        KEEL_TRY(st, c.prepare("INSERT INTO t VALUES (?1)"));
                        st.bind(1, i);
                        return st.run();
                    });
                    good += r.has_value();
                    ++done;
                }(db, i, good, done),
                [](std::exception_ptr) {});
        }
        while (done < kN) {
            co_await keel::sleep_for(std::chrono::milliseconds(2));
        }
        co_return good;
    });
    EXPECT_EQ(ok, 200);
    auto count = lt.block_on([&]() -> Task<Result<std::int64_t>> {
        co_return co_await db.read([](sqlite::Conn& c) -> Result<std::int64_t> {
            KEEL_TRY(st, c.prepare("SELECT count(*) FROM t"));
            KEEL_TRY(row, st.step());
            if (!row) {
                return keel::Error(keel::Errc::internal, "count(*) returned no row");
            }
            return st.get<std::int64_t>(0);
        });
    });
    EXPECT_EQ(*count, 200);
}

}  // namespace
