// keel::jobs measured on one database (bench/jobs/run drives it; see there for the method):
//
//   keel_jobs_bench run      --db URL --jobs N --producers P --concurrency C
//       P coroutines enqueue N jobs (each in its own transaction) while a Runner runs them with
//       an empty handler; from the first enqueue until the last completion. jobs/s, CPU/job.
//   keel_jobs_bench latency  --db URL --samples S
//       One job at a time on an idle queue: from the call to enqueue until its handler starts.
//   keel_jobs_bench ceiling  --db sqlite://PATH --jobs N
//       SQLite's own ceiling: a job's three statements (insert, claim, finish), each its own
//       transaction as the store runs them, in a loop on the writer connection.
//   keel_jobs_bench migrate  --db URL
//       keel's jobs tables only (pgbench's ceiling script then runs on them).
//
// URL: sqlite://PATH or postgresql://... One JSON object per run on stdout.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/jobs/postgres_store.hpp>
#include <keel/jobs/runner.hpp>
#include <keel/jobs/sqlite_store.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using keel::Result;
using keel::Task;
namespace jobs = keel::jobs;
using Clock = std::chrono::steady_clock;

struct Args {
    std::string mode, db;
    int jobs = 20000, producers = 4, concurrency = 32, samples = 200;
};

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: keel_jobs_bench run|latency|ceiling|migrate --db URL [--jobs N] [--producers P] "
                 "[--concurrency C] [--samples S]\n");
    std::exit(2);
}

Args parse(int argc, char** argv) {
    if (argc < 2) {
        usage();
    }
    Args a;
    a.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--db") {
            a.db = v;
        } else if (k == "--jobs") {
            a.jobs = std::stoi(v);
        } else if (k == "--producers") {
            a.producers = std::stoi(v);
        } else if (k == "--concurrency") {
            a.concurrency = std::stoi(v);
        } else if (k == "--samples") {
            a.samples = std::stoi(v);
        } else {
            usage();
        }
    }
    if (a.db.empty()) {
        usage();
    }
    return a;
}

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto s = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "keel_jobs_bench: %s\n", what.c_str());
    std::exit(1);
}

// The database behind a URL, and its store (migrated).
struct Database {
    std::unique_ptr<keel::sqlite::Database> sqlite;
    std::unique_ptr<keel::postgres::Database> pg;
    std::unique_ptr<jobs::Store> store;

    Database(const std::string& url, keel::LoopThread& lt) {
        if (url.rfind("sqlite://", 0) == 0) {
            sqlite = std::make_unique<keel::sqlite::Database>(
                keel::sqlite::DatabaseOptions{.file = {.path = url.substr(std::strlen("sqlite://"))}});
            store = std::make_unique<jobs::SqliteStore>(*sqlite);
        } else {
            pg = std::make_unique<keel::postgres::Database>(keel::db::PoolOptions{.max_open = 8},
                                                            keel::postgres::ConnectOptions{.conninfo = url});
            store = std::make_unique<jobs::PostgresStore>(*pg, keel::postgres::ConnectOptions{.conninfo = url});
        }
        auto migrated = lt.block_on([&] { return store->migrate(); });
        if (!migrated) {
            fail("migrate: " + std::string(migrated.error().message()));
        }
    }
    void close(keel::LoopThread& lt) {
        store.reset();
        if (sqlite) {
            sqlite->close();
        }
        if (pg) {
            lt.block_on([&]() -> Task<void> {
                pg->close();
                co_return;
            });
        }
    }
};

jobs::NewJob noop_job() {
    return jobs::NewJob{.kind = "bench.noop", .queue = "bench"};
}

Task<void> produce(jobs::Store& store, int n, std::atomic<int>& failed) {
    for (int i = 0; i < n; ++i) {
        auto made = co_await store.enqueue(noop_job());
        if (!made) {
            failed.fetch_add(1);
        }
    }
}

void run(const Args& a, keel::LoopThread& runner_lt, keel::LoopThread& producer_lt, Database& db) {
    jobs::Runner runner(*db.store, {.queues = {{.name = "bench", .concurrency = a.concurrency}}});
    runner.handle_raw("bench.noop", [](jobs::Context&) -> Task<Result<void>> { co_return Result<void>{}; });
    runner.start(runner_lt.loop());
    std::atomic<int> failed{0};
    double cpu0 = cpu_seconds();
    auto t0 = Clock::now();
    for (int p = 0; p < a.producers; ++p) {
        int n = a.jobs / a.producers + (p < a.jobs % a.producers ? 1 : 0);
        producer_lt.spawn([&, n] { return produce(*db.store, n, failed); });
    }
    auto deadline = t0 + 10min;
    while (runner.stats().completed + static_cast<std::uint64_t>(failed.load()) < static_cast<std::uint64_t>(a.jobs)) {
        if (Clock::now() > deadline) {
            fail("the jobs did not complete within 10 minutes");
        }
        std::this_thread::sleep_for(1ms);  // a benchmark's poll, outside the measured process's loops
    }
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    double cpu = cpu_seconds() - cpu0;
    runner_lt.block_on([&] { return runner.shutdown(); });
    if (failed.load() > 0) {
        fail(std::to_string(failed.load()) + " enqueues failed");
    }
    std::printf(
        "{\"mode\":\"run\",\"jobs\":%d,\"producers\":%d,\"concurrency\":%d,\"seconds\":%.3f,"
        "\"jobs_per_s\":%.1f,\"cpu_us_per_job\":%.1f,\"claims\":%llu}\n",
        a.jobs, a.producers, a.concurrency, seconds, a.jobs / seconds, cpu * 1e6 / a.jobs,
        static_cast<unsigned long long>(runner.stats().fetches));
}

void latency(const Args& a, keel::LoopThread& runner_lt, keel::LoopThread& producer_lt, Database& db) {
    std::atomic<int> started{0};
    std::atomic<Clock::rep> started_at{0};
    jobs::Runner runner(*db.store, {.queues = {{.name = "bench", .concurrency = 4}}});  // default poll: 1 s
    runner.handle_raw("bench.noop", [&](jobs::Context&) -> Task<Result<void>> {
        started_at.store(Clock::now().time_since_epoch().count());
        started.fetch_add(1);
        co_return Result<void>{};
    });
    runner.start(runner_lt.loop());
    std::this_thread::sleep_for(200ms);  // the runner's first claim and LISTEN are done: the queue is idle
    std::vector<double> ms;
    for (int i = 0; i < a.samples; ++i) {
        auto t0 = Clock::now();
        auto made = producer_lt.block_on([&] { return db.store->enqueue(noop_job()); });
        if (!made) {
            fail("enqueue: " + std::string(made.error().message()));
        }
        while (started.load() <= i) {
            if (Clock::now() - t0 > 5s) {
                fail("a job did not start within 5 s");
            }
            std::this_thread::yield();
        }
        Clock::time_point t1{Clock::duration(started_at.load())};
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        std::this_thread::sleep_for(20ms);  // idle again: its completion written, the runner waiting
    }
    runner_lt.block_on([&] { return runner.shutdown(); });
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
    std::printf("{\"mode\":\"latency\",\"samples\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n", a.samples,
                at(0.50), at(0.99), ms.back());
}

// The statements SqliteStore runs for one job, each its own transaction, without the runner.
void ceiling(const Args& a, keel::LoopThread& lt, Database& db) {
    if (!db.sqlite) {
        fail("ceiling is SQLite's (PostgreSQL's is pgbench's: bench/jobs/ceiling.sql)");
    }
    double cpu0 = cpu_seconds();
    auto t0 = Clock::now();
    auto done = lt.block_on([&] {
        return db.sqlite->write([&](keel::sqlite::Conn& c) -> Result<void> {
            for (int i = 0; i < a.jobs; ++i) {
                KEEL_TRY(id,
                         c.query_one<std::int64_t>(
                             "INSERT INTO keel_jobs (kind, queue, args, priority, max_attempts, run_at, created_at, "
                             "unique_key, unique_until, trace_parent) VALUES ('bench.noop', 'ceiling', '{}', 0, 25, "
                             "?1, ?1, NULL, NULL, '') RETURNING id",
                             i));
                KEEL_TRY_VOID(c.execute(
                    "UPDATE keel_jobs SET state = 'running', attempt = attempt + 1, leased_by = 'w', lease_until = ?2, "
                    "attempted_at = ?1 WHERE id IN (SELECT id FROM keel_jobs WHERE queue = 'ceiling' AND ((state = "
                    "'available' AND run_at <= ?1) OR (state = 'running' AND lease_until < ?1)) ORDER BY priority "
                    "DESC, run_at, id LIMIT 1)",
                    i, i + 30000));
                KEEL_TRY_VOID(
                    c.execute("UPDATE keel_jobs SET state = 'completed', finished_at = ?2, leased_by = NULL, "
                              "lease_until = NULL WHERE id = ?1 AND state = 'running'",
                              id, i));
            }
            return {};
        });
    });
    if (!done) {
        fail("ceiling: " + std::string(done.error().message()));
    }
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    double cpu = cpu_seconds() - cpu0;
    std::printf("{\"mode\":\"ceiling\",\"jobs\":%d,\"seconds\":%.3f,\"jobs_per_s\":%.1f,\"cpu_us_per_job\":%.1f}\n",
                a.jobs, seconds, a.jobs / seconds, cpu * 1e6 / a.jobs);
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse(argc, argv);
    keel::WorkerPool workers({.threads = 2, .queue_capacity = 65536});
    keel::LoopThread runner_lt(&workers), producer_lt(&workers);
    Database db(a.db, runner_lt);
    if (a.mode == "run") {
        run(a, runner_lt, producer_lt, db);
    } else if (a.mode == "latency") {
        latency(a, runner_lt, producer_lt, db);
    } else if (a.mode == "ceiling") {
        ceiling(a, runner_lt, db);
    } else if (a.mode != "migrate") {
        usage();
    }
    db.close(runner_lt);
    return 0;
}
