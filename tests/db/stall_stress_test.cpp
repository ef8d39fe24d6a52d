// The shape of linkd's 37-second stall (issue 15): readers hammer the worker pool through the
// SQLite reader pool while writers share transactions through GroupCommit and the single
// SQLite writer, on one and on two loops. Every operation must finish within a bound; a lost
// wake-up anywhere on that path (worker → loop post, pool hand-over, batch hand-back) leaves
// operations waiting for a post that never comes, and the test reports how many and which.
//
// KEEL_STRESS_ROUNDS multiplies the work (default 1) for long runs by hand.
#include <keel/core/loop_thread.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/db/group_commit.hpp>
#include <keel/sqlite/sqlite.hpp>

#include <gtest/gtest.h>

#include "support/eventually.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using keel::Result;
using keel::Task;
namespace sqlite = keel::sqlite;

// Far above any honest latency here (operations take microseconds; at most a few dozen are
// queued at once), far below the 37 s that was seen.
constexpr auto kBound = 5s;

int rounds() {
    const char* r = std::getenv("KEEL_STRESS_ROUNDS");
    return r ? std::max(1, std::atoi(r)) : 1;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/keel-stress-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

/// Counts finished operations and remembers the slowest.
struct Tally {
    std::atomic<int> done{0};
    std::atomic<int> failed{0};
    std::atomic<std::int64_t> slowest_us{0};
    void record(keel::TimePoint started, bool ok) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(keel::Clock::now() - started).count();
        std::int64_t seen = slowest_us.load();
        while (us > seen && !slowest_us.compare_exchange_weak(seen, us)) {
        }
        failed += ok ? 0 : 1;
        ++done;
    }
};

using Inserts = keel::db::GroupCommit<std::string, Result<std::int64_t>>;

Task<void> writer(Inserts& inserts, int id, int n, Tally& tally) {
    for (int i = 0; i < n; ++i) {
        auto started = keel::Clock::now();
        auto r = co_await inserts.submit("w" + std::to_string(id) + "-" + std::to_string(i));
        tally.record(started, r.has_value());
    }
}

Task<void> reader(sqlite::Database& db, int seed, int n, Tally& tally) {
    std::minstd_rand rng(static_cast<unsigned>(seed));
    for (int i = 0; i < n; ++i) {
        auto started = keel::Clock::now();
        std::int64_t id = static_cast<std::int64_t>(rng() % 1000);
        // A lookup that mostly misses, like GET /{unknown-slug}.
        auto r = co_await db.read([id](sqlite::Conn& c) -> Result<bool> {
            KEEL_TRY(st, c.prepare("SELECT v FROM t WHERE id = ?1"));
            st.bind(1, id);
            return st.step();
        });
        tally.record(started, r.has_value());
    }
}

void run_shape(unsigned loops) {
    TempDir dir;
    keel::WorkerPool pool({.threads = 4, .queue_capacity = 4096});
    sqlite::Database db(
        {.file = {.path = (dir.path / "stress.db").string()}, .readers = {.max_open = 4, .max_idle = 4}});
    std::vector<std::unique_ptr<keel::LoopThread>> threads;
    for (unsigned i = 0; i < loops; ++i) {
        threads.push_back(std::make_unique<keel::LoopThread>(&pool));
    }
    auto created = threads[0]->block_on([&] {
        return db.write([](sqlite::Conn& c) { return c.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); });
    });
    ASSERT_TRUE(created) << created.error().message();

    Inserts inserts(
        [&db](std::vector<std::string>& batch) -> Task<std::vector<Result<std::int64_t>>> {
            auto written = co_await db.write([&](sqlite::Conn& c) -> Result<std::vector<Result<std::int64_t>>> {
                KEEL_TRY_VOID(c.exec("BEGIN IMMEDIATE"));
                std::vector<Result<std::int64_t>> out;
                for (const std::string& v : batch) {
                    KEEL_TRY(st, c.prepare("INSERT INTO t (v) VALUES (?1)"));
                    st.bind(1, v);
                    KEEL_TRY_VOID(st.run());
                    out.emplace_back(c.last_insert_rowid());
                }
                KEEL_TRY_VOID(c.exec("COMMIT"));
                return out;
            });
            if (!written) {
                co_return std::vector<Result<std::int64_t>>(batch.size(), written.error());
            }
            co_return std::move(*written);
        },
        {.max_batch = 32});

    // Per loop: 16 writers (wrk -c32 over two loops) and 8 readers, all at once.
    const int writes = 60 * rounds(), reads = 250 * rounds();
    constexpr int kWriters = 16, kReaders = 8;
    Tally tally;
    for (unsigned l = 0; l < loops; ++l) {
        threads[l]->loop().post([&, l] {
            for (int w = 0; w < kWriters; ++w) {
                keel::spawn(writer(inserts, static_cast<int>(l) * 100 + w, writes, tally), [](std::exception_ptr) {});
            }
            for (int r = 0; r < kReaders; ++r) {
                keel::spawn(reader(db, static_cast<int>(l) * 100 + r, reads, tally), [](std::exception_ptr) {});
            }
        });
    }
    const int total = static_cast<int>(loops) * (kWriters * writes + kReaders * reads);
    // Generous for the whole run; a stall is caught by the per-operation bound below as well.
    bool finished = keel::test::eventually([&] { return tally.done.load() == total; }, 60s * rounds());
    EXPECT_TRUE(finished) << (total - tally.done.load()) << " of " << total
                          << " operations never finished: a lost wake-up on the worker → loop path";
    EXPECT_EQ(tally.failed.load(), 0);
    EXPECT_LT(tally.slowest_us.load(), std::chrono::duration_cast<std::chrono::microseconds>(kBound).count())
        << "an operation took " << tally.slowest_us.load() / 1000 << " ms";
    auto stats = inserts.stats();
    EXPECT_EQ(stats.items, static_cast<std::uint64_t>(loops) * kWriters * writes);
    EXPECT_LT(stats.batches, stats.items);  // writers really shared transactions
    if (!finished) {
        // Unstick what waits (any post wakes a loop that lost one) so the test can end.
        for (auto& t : threads) {
            t->loop().post([] {});
        }
        (void)keel::test::eventually([&] { return tally.done.load() == total; }, 10s);
    }
    db.close();
}

TEST(StallStress, ReadersAndGroupCommitOnOneLoop) {
    run_shape(1);
}

TEST(StallStress, ReadersAndGroupCommitOnTwoLoops) {
    run_shape(2);
}

}  // namespace
