// keel::jobs against both stores: SQLite in a temp dir and a real PostgreSQL (initdb + pg_ctl
// in a temp dir). The same tests run on each: transactional enqueue, unique keys, claims and
// leases, retries on an injected clock, the runner's outcomes (retry, discard, snooze, cancel,
// timeout), shutdown releasing what still runs, schedule ticks once per tick, the operator's
// metrics and /debug/jobs actions over a real socket, and on PostgreSQL LISTEN/NOTIFY waking a
// runner long before its poll.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/jobs/observe.hpp>
#include <keel/jobs/postgres_store.hpp>
#include <keel/jobs/runner.hpp>
#include <keel/jobs/sqlite_store.hpp>
#include <keel/observe/metrics.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/test_server.hpp>

#include <support/eventually.hpp>
#include <support/shared_postgres.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace std::chrono_literals;
using keel::Result;
using keel::Task;
namespace jobs = keel::jobs;
using keel::test::eventually;

struct Mail {
    std::string to;
    int n = 0;
};
KEEL_JSON(Mail, to, n)

// The injected wall clock of the tests that need one.
std::atomic<jobs::UnixMillis> g_now{1'000'000};
jobs::UnixMillis fake_clock() {
    return g_now.load();
}

class Jobs : public ::testing::TestWithParam<std::string> {
  protected:
    void TearDown() override {
        store_.reset();
        if (sqlite_) {
            sqlite_->close();
        }
        if (pg_) {
            lt_.block_on([&]() -> Task<void> {
                pg_->close();
                co_return;
            });
        }
        sqlite_.reset();
        pg_.reset();
        if (!dir_.empty()) {
            std::filesystem::remove_all(dir_);
        }
    }

    bool postgres() const { return GetParam() == "postgres"; }

    // A fresh database and its store (migrated), reading `clock`.
    jobs::Store& open(jobs::WallClock clock = jobs::system_clock_millis) {
        if (postgres()) {
            url_ = keel::test::database_for_this_test("j_");
            pg_ = std::make_unique<keel::postgres::Database>(keel::db::PoolOptions{.max_open = 8},
                                                             keel::postgres::ConnectOptions{.conninfo = url_});
            store_ =
                std::make_unique<jobs::PostgresStore>(*pg_, keel::postgres::ConnectOptions{.conninfo = url_}, clock);
        } else {
            char tmpl[] = "/tmp/keel-jobs-XXXXXX";
            dir_ = ::mkdtemp(tmpl);
            sqlite_ = std::make_unique<keel::sqlite::Database>(
                keel::sqlite::DatabaseOptions{.file = {.path = dir_ + "/jobs.db"}});
            store_ = std::make_unique<jobs::SqliteStore>(*sqlite_, clock);
        }
        auto applied = lt_.block_on([&] { return store_->migrate(); });
        EXPECT_TRUE(applied) << applied.error().message();
        auto again = lt_.block_on([&] { return store_->migrate(); });
        EXPECT_TRUE(again && *again == 0);
        return *store_;
    }

    template <class F>
    auto on_loop(F f) {
        return lt_.block_on(std::move(f));
    }

    std::int64_t count(jobs::State state, std::string queue = "default") {
        auto counts = on_loop([&] { return store_->counts(); });
        if (!counts) {
            return -1;  // (a PostgreSQL restart fails the next query of each pooled connection)
        }
        for (const jobs::Count& c : *counts) {
            if (c.state == state && c.queue == queue) {
                return c.jobs;
            }
        }
        return 0;
    }

    jobs::Enqueued enqueue(jobs::NewJob job) {
        auto made = on_loop([&] { return store_->enqueue(job); });
        EXPECT_TRUE(made) << made.error().message();
        return made ? *made : jobs::Enqueued{};
    }

    // Enqueues `job` in a transaction of the caller's that commits or rolls back.
    Result<jobs::Enqueued> enqueue_in_transaction(jobs::NewJob job, bool commit) {
        if (auto* s = dynamic_cast<jobs::SqliteStore*>(store_.get())) {
            return on_loop([&] {
                return sqlite_->write([&](keel::sqlite::Conn& c) {
                    return c.transaction([&]() -> Result<jobs::Enqueued> {
                        KEEL_TRY_VOID(c.exec("CREATE TABLE IF NOT EXISTS business (x INTEGER)"));
                        KEEL_TRY_VOID(c.exec("INSERT INTO business VALUES (1)"));
                        KEEL_TRY(made, s->enqueue(c, job));
                        if (!commit) {
                            return keel::Error(keel::Errc::conflict, "the business rule said no");
                        }
                        return made;
                    });
                });
            });
        }
        auto* p = dynamic_cast<jobs::PostgresStore*>(store_.get());
        return on_loop([&]() -> Task<Result<jobs::Enqueued>> {
            KEEL_CO_TRY(conn, co_await pg_->acquire());
            KEEL_CO_TRY_VOID(co_await conn->exec("BEGIN"));
            KEEL_CO_TRY_VOID(co_await conn->exec("CREATE TABLE IF NOT EXISTS business (x int)"));
            KEEL_CO_TRY_VOID(co_await conn->exec("INSERT INTO business VALUES (1)"));
            auto made = co_await p->enqueue(*conn, job);
            KEEL_CO_TRY_VOID(co_await conn->exec(commit ? "COMMIT" : "ROLLBACK"));
            if (!commit) {
                co_return keel::Error(keel::Errc::conflict, "the business rule said no");
            }
            co_return made;
        });
    }

    keel::WorkerPool workers_{{.threads = 2, .queue_capacity = 1024}};
    keel::LoopThread lt_{&workers_};
    std::string dir_, url_;
    std::unique_ptr<keel::sqlite::Database> sqlite_;
    std::unique_ptr<keel::postgres::Database> pg_;
    std::unique_ptr<jobs::Store> store_;
};

jobs::NewJob mail(int n) {
    return jobs::make("mail.send", Mail{.to = "a@example.com", .n = n});
}

TEST_P(Jobs, AJobEnqueuedInARolledBackTransactionDoesNotExist) {
    open();
    auto rolled_back = enqueue_in_transaction(mail(1), false);
    EXPECT_FALSE(rolled_back);
    EXPECT_EQ(count(jobs::State::available), 0);
    auto committed = enqueue_in_transaction(mail(2), true);
    ASSERT_TRUE(committed) << committed.error().message();
    EXPECT_EQ(count(jobs::State::available), 1);
    auto found = on_loop([&] { return store_->find(committed->id); });
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->args_as<Mail>()->n, 2);
}

TEST_P(Jobs, AUniqueKeyReturnsTheExistingJobWithinItsWindow) {
    open(fake_clock);
    jobs::NewJob job = mail(1);
    job.unique_key = "mail-to-a";
    job.unique_for = 10s;
    jobs::Enqueued first = enqueue(job);
    jobs::Enqueued second = enqueue(job);
    EXPECT_FALSE(first.existed);
    EXPECT_TRUE(second.existed);
    EXPECT_EQ(first.id, second.id);
    jobs::NewJob other_kind = job;
    other_kind.kind = "mail.other";
    EXPECT_FALSE(enqueue(other_kind).existed);  // keys are per kind
    g_now += 10'001;
    jobs::Enqueued later = enqueue(job);
    EXPECT_FALSE(later.existed);  // the window has passed
    EXPECT_NE(later.id, first.id);
}

TEST_P(Jobs, InvalidJobsAreRefusedWithTheReason) {
    open();
    jobs::NewJob job = mail(1);
    job.max_attempts = 0;
    auto made = on_loop([&] { return store_->enqueue(job); });
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code(), keel::Errc::invalid_argument);
    EXPECT_NE(made.error().message().find("max_attempts"), std::string_view::npos);
}

TEST_P(Jobs, ClaimsAreLeasedAndAnExpiredLeaseIsTakenOverWithTheNextAttempt) {
    open(fake_clock);
    jobs::UnixMillis t = g_now;
    jobs::Enqueued made = enqueue(mail(1));
    auto a = on_loop([&] { return store_->claim("default", 10, "worker-a", t, t + 100); });
    ASSERT_TRUE(a);
    ASSERT_EQ(a->size(), 1u);
    EXPECT_EQ((*a)[0].id, made.id);
    EXPECT_EQ((*a)[0].attempt, 1);
    // Leased: nobody else gets it, until the lease runs out.
    auto b = on_loop([&] { return store_->claim("default", 10, "worker-b", t + 50, t + 150); });
    EXPECT_TRUE(b && b->empty());
    auto c = on_loop([&] { return store_->claim("default", 10, "worker-b", t + 101, t + 201); });
    ASSERT_TRUE(c && c->size() == 1u);
    EXPECT_EQ((*c)[0].attempt, 2);
    // worker-a lost it: its outcome is not recorded; worker-b's is.
    jobs::Finish done{.id = made.id, .attempt = 1, .state = jobs::State::completed};
    auto late = on_loop([&] { return store_->finish("worker-a", done, t + 120); });
    ASSERT_TRUE(late);
    EXPECT_FALSE(*late);
    done.attempt = 2;
    auto own = on_loop([&] { return store_->finish("worker-b", done, t + 130); });
    ASSERT_TRUE(own);
    EXPECT_TRUE(*own);
    EXPECT_EQ(count(jobs::State::completed), 1);
}

TEST_P(Jobs, HeartbeatsKeepTheLeaseOfTheJobsNamed) {
    open(fake_clock);
    jobs::UnixMillis t = g_now;
    jobs::Enqueued kept = enqueue(mail(1));
    jobs::Enqueued dropped = enqueue(mail(2));
    ASSERT_EQ(on_loop([&] { return store_->claim("default", 10, "w", t, t + 100); })->size(), 2u);
    // The runner names what it still runs: a job whose outcome it could not record is left out.
    ASSERT_TRUE(on_loop([&] { return store_->heartbeat("w", {kept.id}, t + 1000); }));
    ASSERT_TRUE(on_loop([&] { return store_->heartbeat("x", {dropped.id}, t + 1000); }));  // not x's
    auto other = on_loop([&] { return store_->claim("default", 10, "x", t + 500, t + 600); });
    ASSERT_TRUE(other);
    ASSERT_EQ(other->size(), 1u);
    EXPECT_EQ(other->front().id, dropped.id);
    EXPECT_EQ(other->front().attempt, 2);
}

TEST_P(Jobs, ARetryWaitsForItsRunAtOnTheInjectedClock) {
    open(fake_clock);
    jobs::UnixMillis t = g_now;
    jobs::Enqueued made = enqueue(mail(1));
    ASSERT_EQ(on_loop([&] { return store_->claim("default", 1, "w", t, t + 1000); })->size(), 1u);
    jobs::Finish retry{.id = made.id,
                       .attempt = 1,
                       .state = jobs::State::available,
                       .run_at = t + 5000,
                       .error = "unavailable: the mail server said 421"};
    ASSERT_TRUE(*on_loop([&] { return store_->finish("w", retry, t + 10); }));
    EXPECT_TRUE(on_loop([&] { return store_->claim("default", 1, "w", t + 4999, t + 9999); })->empty());
    auto due = on_loop([&] { return store_->claim("default", 1, "w", t + 5000, t + 9999); });
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ((*due)[0].attempt, 2);
    auto failures = on_loop([&] { return store_->failures(10); });
    ASSERT_TRUE(failures);
    ASSERT_EQ(failures->size(), 1u);
    EXPECT_EQ((*failures)[0].error, "unavailable: the mail server said 421");
    EXPECT_EQ((*failures)[0].attempt, 2);
}

TEST_P(Jobs, HigherPriorityRunsFirstAndQueuesAreApart) {
    open();
    jobs::NewJob low = mail(1);
    jobs::NewJob high = mail(2);
    high.priority = 5;
    jobs::NewJob elsewhere = mail(3);
    elsewhere.queue = "bulk";
    enqueue(low);
    jobs::Enqueued h = enqueue(high);
    enqueue(elsewhere);
    jobs::UnixMillis t = jobs::system_clock_millis();
    auto first = on_loop([&] { return store_->claim("default", 1, "w", t, t + 1000); });
    ASSERT_EQ(first->size(), 1u);
    EXPECT_EQ((*first)[0].id, h.id);
    auto rest = on_loop([&] { return store_->claim("default", 10, "w", t, t + 1000); });
    EXPECT_EQ(rest->size(), 1u);  // the bulk job is not the default queue's
    EXPECT_EQ(count(jobs::State::available, "bulk"), 1);
}

TEST_P(Jobs, ScheduleTicksAreEnqueuedOncePerTick) {
    open();
    auto tick = [&](jobs::UnixMillis at) {
        jobs::NewJob job{.kind = "links.purge"};
        return *on_loop([&] { return store_->enqueue_tick("purge", at, job); });
    };
    EXPECT_TRUE(tick(1000));
    EXPECT_FALSE(tick(1000));  // the same tick, from another process
    EXPECT_FALSE(tick(500));   // an older one
    EXPECT_TRUE(tick(2000));
    EXPECT_EQ(count(jobs::State::available), 2);
    EXPECT_EQ(*on_loop([&] { return store_->last_tick("purge"); }), std::optional<jobs::UnixMillis>(2000));
}

// The runner, on real time.
struct Seen {
    std::mutex mu;
    std::map<std::int64_t, std::vector<int>> attempts;  // job id → attempts seen
    void add(const jobs::Job& j) {
        std::lock_guard lock(mu);
        attempts[j.id].push_back(j.attempt);
    }
    std::size_t jobs() {
        std::lock_guard lock(mu);
        return attempts.size();
    }
    std::vector<int> of(std::int64_t id) {
        std::lock_guard lock(mu);
        return attempts[id];
    }
};

jobs::RunnerOptions fast_runner() {
    return {.queues = {{.name = "default", .concurrency = 4}}, .lease = 3s, .poll = 50ms, .shutdown_timeout = 2s};
}

// A cron schedule at start: the latest tick missed since the last one (by any process) is
// enqueued at once, one however many were missed; a schedule that never ran waits for its
// first minute.
TEST_P(Jobs, ACronScheduleCatchesUpOneMissedTickAtStart) {
    open(fake_clock);
    const jobs::UnixMillis minute = 60'000;
    g_now = 1'800'000'000'000;  // 2027-01-15T08:00:00Z, a whole minute
    jobs::RunnerOptions on_fake_clock = fast_runner();
    on_fake_clock.clock = fake_clock;
    {
        jobs::Runner fresh(*store_, on_fake_clock);
        ASSERT_TRUE(fresh.cron("report", "* * * * *", jobs::NewJob{.kind = "report", .queue = "reports"}));
        fresh.start(lt_.loop());
        on_loop([&] { return fresh.shutdown(); });  // waits for the catch-up too
    }
    EXPECT_EQ(*on_loop([&] { return store_->last_tick("report"); }), std::nullopt);  // never ran: nothing yet
    ASSERT_TRUE(*on_loop([&] {
        return store_->enqueue_tick("report", g_now - 10 * minute, jobs::NewJob{.kind = "report", .queue = "reports"});
    }));
    jobs::Runner back(*store_, on_fake_clock);
    ASSERT_TRUE(back.cron("report", "* * * * *", jobs::NewJob{.kind = "report", .queue = "reports"}));
    back.start(lt_.loop());
    EXPECT_TRUE(eventually([&] {
        auto last = on_loop([&] { return store_->last_tick("report"); });
        return last && *last == std::optional<jobs::UnixMillis>(g_now.load());  // 08:00 itself is due
    }));
    EXPECT_EQ(count(jobs::State::available, "reports"), 2);  // the one before, and one for the nine missed
    on_loop([&] { return back.shutdown(); });
    EXPECT_FALSE(jobs::Runner(*store_, {}).cron("bad", "61 * * * *", {.kind = "x"}));
}

TEST_P(Jobs, TheRunnerRunsRetriesAndDiscards) {
    open();
    Seen seen;
    jobs::Runner runner(*store_, fast_runner());
    jobs::KindOptions quick{.retry = {.base = 10ms, .max = 20ms}};
    runner.handle<Mail>(
        "mail.send",
        [&](jobs::Context& ctx, Mail m) -> Task<Result<void>> {
            seen.add(ctx.job());
            if (m.n == 2 && ctx.job().attempt == 1) {
                co_return keel::Error(keel::Errc::unavailable, "try again");  // then it works
            }
            if (m.n == 3) {
                throw std::runtime_error("always broken");
            }
            co_return Result<void>{};
        },
        quick);
    jobs::Enqueued ok = enqueue(mail(1));
    jobs::Enqueued flaky = enqueue(mail(2));
    jobs::NewJob broken_job = mail(3);
    broken_job.max_attempts = 3;
    jobs::Enqueued broken = enqueue(broken_job);
    runner.start(lt_.loop());
    EXPECT_TRUE(eventually([&] { return count(jobs::State::completed) == 2 && count(jobs::State::discarded) == 1; }));
    EXPECT_EQ(seen.of(ok.id), std::vector<int>({1}));
    EXPECT_EQ(seen.of(flaky.id), std::vector<int>({1, 2}));
    EXPECT_EQ(seen.of(broken.id), std::vector<int>({1, 2, 3}));
    auto failures = on_loop([&] { return store_->failures(10); });
    ASSERT_TRUE(failures);
    ASSERT_FALSE(failures->empty());
    EXPECT_EQ((*failures)[0].id, broken.id);
    EXPECT_EQ((*failures)[0].state, jobs::State::discarded);
    EXPECT_EQ((*failures)[0].error, "exception: always broken");
    EXPECT_EQ(runner.stats().discarded, 1u);
    EXPECT_EQ(runner.stats().retried, 3u);  // flaky once, broken twice
    // An operator retries the discarded job: it runs again (and fails again).
    ASSERT_TRUE(*on_loop([&] { return store_->retry(broken.id, jobs::system_clock_millis()); }));
    EXPECT_TRUE(eventually([&] { return seen.of(broken.id).size() == 4; }));
    EXPECT_TRUE(eventually([&] { return count(jobs::State::discarded) == 1; }));
    on_loop([&] { return runner.shutdown(); });
}

// The operator's surface: the collector's metrics, GET /debug/jobs and the retry / discard
// actions, on a real server.
TEST_P(Jobs, TheAdminSurfaceCountsListsFailuresAndRetriesOrDiscards) {
    open();
    Seen seen;
    jobs::RunnerOptions o = fast_runner();
    o.count_every = 20ms;
    jobs::Runner runner(*store_, o);
    runner.handle<Mail>("mail.send", [&](jobs::Context& ctx, Mail m) -> Task<Result<void>> {
        seen.add(ctx.job());
        if (m.n == 3) {
            co_return keel::Error(keel::Errc::unavailable, "the relay said 451");
        }
        co_return Result<void>{};
    });
    jobs::Enqueued ok = enqueue(mail(1));
    jobs::NewJob broken_job = mail(3);
    broken_job.max_attempts = 1;
    jobs::Enqueued broken = enqueue(broken_job);
    jobs::NewJob later_job = mail(4);
    later_job.run_at = jobs::system_clock_millis() + 3'600'000;
    jobs::Enqueued later = enqueue(later_job);
    runner.start(lt_.loop());
    ASSERT_TRUE(eventually([&] { return count(jobs::State::completed) == 1 && count(jobs::State::discarded) == 1; }));

    keel::metrics::Registry registry;
    registry.add_collector(jobs::collector(runner));
    EXPECT_TRUE(eventually([&] {
        std::string text = registry.scrape();
        return text.find("keel_jobs{queue=\"default\",state=\"discarded\"} 1\n") != std::string::npos &&
               text.find("keel_jobs{queue=\"default\",state=\"available\"} 1\n") != std::string::npos;
    })) << registry.scrape();
    std::string text = registry.scrape();
    EXPECT_NE(text.find("keel_jobs_enqueued_total 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("keel_jobs_claimed_total 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("keel_jobs_completed_total 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("keel_jobs_discarded_total 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("keel_jobs_running 0\n"), std::string::npos) << text;

    keel::router::Router admin;
    admin.get("/debug/jobs", jobs::debug_page(*store_, &runner));
    admin.post("/debug/jobs/{id}/retry", jobs::retry_action(*store_));
    admin.post("/debug/jobs/{id}/discard", jobs::discard_action(*store_));
    keel::testing::TestServer srv(admin.handler(), keel::testing::TestServer::default_options(), &workers_);
    auto call = [&](std::string method, std::string path) {
        keel::testing::RawClient c(srv.port());
        auto res = c.exchange(method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        EXPECT_TRUE(res) << method << " " << path;
        return res.value_or(keel::testing::RawResponse{});
    };
    auto page = call("GET", "/debug/jobs");
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("\"worker\":\"" + runner.worker_id() + "\""), std::string::npos) << page.body;
    EXPECT_NE(page.body.find(R"({"queue":"default","state":"completed","jobs":1})"), std::string::npos) << page.body;
    EXPECT_NE(page.body.find("\"id\":" + std::to_string(broken.id) + ",\"kind\":\"mail.send\""), std::string::npos)
        << page.body;
    EXPECT_NE(page.body.find("the relay said 451"), std::string::npos) << page.body;

    auto id_path = [](std::int64_t id, const char* action) {
        return "/debug/jobs/" + std::to_string(id) + "/" + action;
    };
    auto retried = call("POST", id_path(broken.id, "retry"));
    EXPECT_EQ(retried.status, 200) << retried.body;
    EXPECT_EQ(retried.body, "{\"id\":" + std::to_string(broken.id) + ",\"retried\":true}");
    EXPECT_TRUE(eventually([&] { return seen.of(broken.id).size() == 2; }));
    auto completed = call("POST", id_path(ok.id, "retry"));
    EXPECT_EQ(completed.status, 409) << completed.body;
    EXPECT_EQ(completed.header("content-type").value_or(""), "application/problem+json");
    EXPECT_EQ(call("POST", id_path(999'999, "retry")).status, 404);
    EXPECT_EQ(call("POST", "/debug/jobs/seven/retry").status, 400);
    EXPECT_EQ(call("POST", "/debug/jobs/-3/discard").status, 400);

    auto discarded = call("POST", id_path(later.id, "discard"));
    EXPECT_EQ(discarded.status, 200) << discarded.body;
    EXPECT_TRUE(eventually([&] { return count(jobs::State::available) == 0 && count(jobs::State::discarded) == 2; }));
    EXPECT_EQ(call("POST", id_path(later.id, "discard")).status, 409);  // already discarded
    EXPECT_EQ(seen.of(later.id).size(), 0u);                            // it never ran
    on_loop([&] { return runner.shutdown(); });
}

TEST_P(Jobs, AHandlerSnoozesOrCancelsItsJob) {
    open();
    Seen seen;
    jobs::Runner runner(*store_, fast_runner());
    runner.handle<Mail>("mail.send", [&](jobs::Context& ctx, Mail m) -> Task<Result<void>> {
        seen.add(ctx.job());
        if (m.n == 1 && seen.of(ctx.job().id).size() == 1) {
            co_return ctx.snooze(20ms);
        }
        if (m.n == 2) {
            co_return ctx.cancel("the address bounced");
        }
        co_return Result<void>{};
    });
    jobs::Enqueued snoozed = enqueue(mail(1));
    enqueue(mail(2));
    runner.start(lt_.loop());
    EXPECT_TRUE(eventually([&] { return count(jobs::State::completed) == 1 && count(jobs::State::cancelled) == 1; }));
    EXPECT_EQ(seen.of(snoozed.id), std::vector<int>({1, 1}));  // a snooze is not an attempt
    auto failures = on_loop([&] { return store_->failures(10); });
    ASSERT_EQ(failures->size(), 1u);
    EXPECT_EQ((*failures)[0].error, "cancelled: the address bounced");
    on_loop([&] { return runner.shutdown(); });
}

TEST_P(Jobs, ArgumentsThatDoNotFitCancelTheJob) {
    open();
    jobs::Runner runner(*store_, fast_runner());
    runner.handle<Mail>("mail.send", [&](jobs::Context&, Mail) -> Task<Result<void>> { co_return Result<void>{}; });
    enqueue(jobs::NewJob{.kind = "mail.send", .args = R"({"to": 5})"});
    runner.start(lt_.loop());
    EXPECT_TRUE(eventually([&] { return count(jobs::State::cancelled) == 1; }));
    auto failures = on_loop([&] { return store_->failures(10); });
    ASSERT_EQ(failures->size(), 1u);
    EXPECT_NE(failures->front().error.find("/to"), std::string::npos) << failures->front().error;
    on_loop([&] { return runner.shutdown(); });
}

TEST_P(Jobs, AnAttemptPastItsTimeoutIsStoppedAndFails) {
    open();
    jobs::Runner runner(*store_, fast_runner());
    runner.handle<Mail>("mail.send",
                        [&](jobs::Context& ctx, Mail) -> Task<Result<void>> {
                            if (!co_await keel::sleep_for(30s, ctx.stop_token())) {
                                co_return keel::errors::kCancelled;
                            }
                            co_return Result<void>{};
                        },
                        {.timeout = 50ms});
    jobs::NewJob job = mail(1);
    job.max_attempts = 1;
    enqueue(job);
    runner.start(lt_.loop());
    EXPECT_TRUE(eventually([&] { return count(jobs::State::discarded) == 1; }));
    auto failures = on_loop([&] { return store_->failures(10); });
    ASSERT_EQ(failures->size(), 1u);
    EXPECT_EQ(failures->front().error.rfind("timeout", 0), 0u) << failures->front().error;
    on_loop([&] { return runner.shutdown(); });
}

TEST_P(Jobs, ShutdownReleasesWhatStillRunsToAnotherProcess) {
    open();
    std::atomic<int> started{0};
    jobs::RunnerOptions o = fast_runner();
    o.shutdown_timeout = 100ms;
    auto runner = std::make_unique<jobs::Runner>(*store_, o);
    runner->handle<Mail>("mail.send", [&](jobs::Context& ctx, Mail) -> Task<Result<void>> {
        ++started;
        co_await keel::sleep_for(30s, ctx.stop_token());  // returns once shutdown stops it
        co_return Result<void>{};
    });
    jobs::Enqueued made = enqueue(mail(1));
    runner->start(lt_.loop());
    ASSERT_TRUE(eventually([&] { return started == 1; }));
    on_loop([&] { return runner->shutdown(); });
    EXPECT_EQ(runner->stats().released, 1u);
    EXPECT_EQ(count(jobs::State::available), 1);  // released, not failed
    EXPECT_EQ(count(jobs::State::completed), 0);
    runner.reset();
    // Another runner gets it with its first attempt again.
    Seen seen;
    jobs::Runner next(*store_, fast_runner());
    next.handle<Mail>("mail.send", [&](jobs::Context& ctx, Mail) -> Task<Result<void>> {
        seen.add(ctx.job());
        co_return Result<void>{};
    });
    next.start(lt_.loop());
    EXPECT_TRUE(eventually([&] { return count(jobs::State::completed) == 1; }));
    EXPECT_EQ(seen.of(made.id), std::vector<int>({1}));
    on_loop([&] { return next.shutdown(); });
}

// PostgreSQL restarted while a job runs: its outcome is recorded on a new connection or, when
// that fails too, its lease runs out and it runs again; either way it completes, and jobs
// enqueued after the restart are claimed (the pool and the LISTEN connection reconnect).
TEST_P(Jobs, APostgresRestartWhileAJobRunsLosesNothing) {
    if (!postgres()) {
        GTEST_SKIP() << "PostgreSQL only";
    }
    open();
    Seen seen;
    std::atomic<bool> restarted{false};
    jobs::RunnerOptions o = fast_runner();
    o.lease = 1s;
    jobs::Runner runner(*store_, o);
    runner.handle<Mail>("mail.send", [&](jobs::Context& ctx, Mail) -> Task<Result<void>> {
        seen.add(ctx.job());
        while (ctx.job().attempt == 1 && !restarted) {
            co_await keel::sleep_for(10ms);  // the first attempt outlives the database's restart
        }
        co_return Result<void>{};
    });
    jobs::Enqueued first = enqueue(mail(1));
    runner.start(lt_.loop());
    ASSERT_TRUE(eventually([&] { return seen.of(first.id).size() == 1; }));
    keel::test::shared_postgres().stop();
    keel::test::shared_postgres().start();
    restarted = true;  // the attempt ends now; its finish meets a connection the restart broke
    EXPECT_TRUE(eventually([&] { return count(jobs::State::completed) == 1; }, 20s));
    EXPECT_GE(seen.of(first.id).size(), 1u);
    jobs::Enqueued later = enqueue(mail(2));
    EXPECT_TRUE(eventually([&] { return count(jobs::State::completed) == 2; }, 20s));
    EXPECT_EQ(seen.of(later.id), std::vector<int>({1}));
    on_loop([&] { return runner.shutdown(); });
}

// SQLite's write lock held by another process (here a second connection in BEGIN IMMEDIATE,
// as a backup or a migration would hold it): enqueues and claims wait for it (busy_timeout,
// 5 s), nothing runs meanwhile, and once it is released every job runs; nothing is lost.
TEST_P(Jobs, ASqliteWriteLockHeldElsewhereDelaysJobsWithoutLosingThem) {
    if (postgres()) {
        GTEST_SKIP() << "SQLite only";
    }
    open();
    Seen seen;
    jobs::Runner runner(*store_, fast_runner());
    runner.handle<Mail>("mail.send", [&](jobs::Context& ctx, Mail) -> Task<Result<void>> {
        seen.add(ctx.job());
        co_return Result<void>{};
    });
    runner.start(lt_.loop());
    enqueue(mail(1));
    ASSERT_TRUE(eventually([&] { return count(jobs::State::completed) == 1; }));
    auto other = keel::sqlite::Conn::open({.path = dir_ + "/jobs.db"});
    ASSERT_TRUE(other) << other.error().message();
    ASSERT_TRUE((*other)->exec("BEGIN IMMEDIATE"));
    keel::LoopThread producer(&workers_);  // its enqueue waits for the lock, off the test's thread
    auto made =
        std::async(std::launch::async, [&] { return producer.block_on([&] { return store_->enqueue(mail(2)); }); });
    std::this_thread::sleep_for(1s);  // the lock held for a while (what is tested, not a barrier)
    EXPECT_EQ(seen.jobs(), 1u);       // nothing could be enqueued or claimed meanwhile
    ASSERT_TRUE((*other)->exec("COMMIT"));
    auto second = made.get();
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_TRUE(eventually([&] { return count(jobs::State::completed) == 2; }));
    EXPECT_EQ(seen.of(second->id), std::vector<int>({1}));
    on_loop([&] { return runner.shutdown(); });
}

TEST_P(Jobs, TwoRunnersOnOneStoreRunEachJobOnce) {
    open();
    Seen seen;
    auto handler = [&](jobs::Context& ctx, Mail) -> Task<Result<void>> {
        seen.add(ctx.job());
        co_return Result<void>{};
    };
    keel::LoopThread other(&workers_);
    jobs::Runner a(*store_, fast_runner());
    jobs::Runner b(*store_, fast_runner());
    a.handle<Mail>("mail.send", handler);
    b.handle<Mail>("mail.send", handler);
    a.start(lt_.loop());
    b.start(other.loop());
    for (int i = 0; i < 60; ++i) {
        enqueue(mail(i));
    }
    EXPECT_TRUE(eventually([&] { return count(jobs::State::completed) == 60; }, 20s));
    EXPECT_EQ(seen.jobs(), 60u);
    for (auto& [id, attempts] : seen.attempts) {
        EXPECT_EQ(attempts, std::vector<int>({1})) << "job " << id;
    }
    on_loop([&] { return a.shutdown(); });
    other.block_on([&] { return b.shutdown(); });
}

TEST_P(Jobs, APeriodicScheduleRunsOncePerTickAcrossRunners) {
    open();
    auto handler = [](jobs::Context&) -> Task<Result<void>> { co_return Result<void>{}; };
    keel::LoopThread other(&workers_);
    jobs::Runner a(*store_, fast_runner());
    jobs::Runner b(*store_, fast_runner());
    for (jobs::Runner* r : {&a, &b}) {
        r->handle_raw("tick", handler);
        r->every("every-200ms", 200ms, jobs::NewJob{.kind = "tick"});
    }
    jobs::UnixMillis first_tick = jobs::system_clock_millis() / 200 * 200;
    a.start(lt_.loop());
    b.start(other.loop());
    EXPECT_TRUE(eventually([&] { return count(jobs::State::completed) >= 8; }, 10s));
    on_loop([&] { return a.shutdown(); });
    other.block_on([&] { return b.shutdown(); });
    // Both runners fire at every tick; each tick is one job: as many jobs as ticks from the
    // first (the start-up tick, or the next one if a boundary passed meanwhile) to the last.
    auto last = on_loop([&] { return store_->last_tick("every-200ms"); });
    ASSERT_TRUE(last && *last);
    std::int64_t jobs_made = count(jobs::State::completed) + count(jobs::State::available);
    std::int64_t ticks = (**last - first_tick) / 200 + 1;
    EXPECT_TRUE(jobs_made == ticks || jobs_made == ticks - 1) << jobs_made << " jobs for " << ticks << " ticks";
    EXPECT_EQ(static_cast<std::int64_t>(a.stats().completed + b.stats().completed), count(jobs::State::completed));
}

TEST_P(Jobs, AnEnqueueWakesAnIdleRunnerLongBeforeItsPoll) {
    open();
    std::atomic<int> ran{0};
    jobs::RunnerOptions o = fast_runner();
    o.poll = 60s;  // only the store's wake-up can bring the job in time
    jobs::Runner runner(*store_, o);
    runner.handle<Mail>("mail.send", [&](jobs::Context&, Mail) -> Task<Result<void>> {
        ++ran;
        co_return Result<void>{};
    });
    runner.start(lt_.loop());
    // The runner has claimed nothing and waits: on SQLite after its first claim; on PostgreSQL
    // after the second (the first wait connects and LISTENs, then claims again).
    std::uint64_t idle_after = postgres() ? 2 : 1;
    ASSERT_TRUE(eventually([&] { return runner.stats().fetches >= idle_after; }));
    enqueue(mail(1));
    EXPECT_TRUE(eventually([&] { return ran == 1; }, 10s));
    EXPECT_EQ(runner.stats().fetches, idle_after + 1);  // woken once, not polled
    on_loop([&] { return runner.shutdown(); });
}

INSTANTIATE_TEST_SUITE_P(Stores, Jobs, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

jobs::UnixMillis utc(std::chrono::sys_days day, std::chrono::minutes at = {}) {
    return std::chrono::duration_cast<std::chrono::milliseconds>((day + at).time_since_epoch()).count();
}

jobs::UnixMillis next(std::string_view expression, jobs::UnixMillis after) {
    auto c = jobs::Cron::parse(expression);
    EXPECT_TRUE(c) << expression << ": " << c.error().message();
    return c ? c->next_after(after) : 0;
}

TEST(Cron, NamesTheNextMinuteOfEachField) {
    using namespace std::chrono;
    const sys_days mon{2026y / December / 7};  // a Monday
    EXPECT_EQ(next("*/15 * * * *", utc(mon, 10h + 7min)), utc(mon, 10h + 15min));
    EXPECT_EQ(next("*/15 * * * *", utc(mon, 10h + 15min)), utc(mon, 10h + 30min));  // strictly after
    EXPECT_EQ(next("30 2 * * *", utc(mon, 23h)), utc(mon + days(1), 2h + 30min));
    EXPECT_EQ(next("0 9 * * MON-FRI", utc(mon - days(2), 10h)), utc(mon, 9h));                // Saturday → Monday
    EXPECT_EQ(next("0 0 * * 7", utc(mon)), utc(mon + days(6)));                               // 7 is Sunday
    EXPECT_EQ(next("0 0 1 * SUN", utc(sys_days{2026y / December / 1})), utc(mon - days(1)));  // either day field
    EXPECT_EQ(next("0 0 29 2 *", utc(sys_days{2027y / January / 1})), utc(sys_days{2028y / February / 29}));
    EXPECT_EQ(next("59 23 31 12 *", utc(sys_days{2026y / December / 31}, 23h + 59min)),
              utc(sys_days{2027y / December / 31}, 23h + 59min));
    EXPECT_EQ(next("0 0 1 jan,jul *", utc(mon)), utc(sys_days{2027y / January / 1}));
    EXPECT_EQ(next("5,10-12 * * * *", utc(mon, 1h + 10min)), utc(mon, 1h + 11min));
    EXPECT_EQ(next("10/20 * * * *", utc(mon, 1h + 31min)), utc(mon, 1h + 50min));
    EXPECT_EQ(next("@hourly", utc(mon, 10h + 59min) + 30'000), utc(mon, 11h));
    EXPECT_EQ(next("@daily", utc(mon, 1min)), utc(mon + days(1)));
}

TEST(Cron, RefusesWhatIsNotAnExpressionWithTheField) {
    for (std::string_view bad : {"* * * *", "60 * * * *", "* 24 * * *", "5-1 * * * *", "*/0 * * * *", "x * * * *",
                                 "* * 0 * *", "* * * 13 *", "* * * * 8", "0 0 30 2 *", "* * * * * *", "@often"}) {
        auto c = jobs::Cron::parse(bad);
        EXPECT_FALSE(c) << bad;
        if (!c) {
            EXPECT_EQ(c.error().code(), keel::Errc::invalid_argument);
        }
    }
    auto minute = jobs::Cron::parse("61 * * * *");
    EXPECT_EQ(minute.error().message(), "cron: minute \"61\": out of 0-59");
    auto weekday = jobs::Cron::parse("* * * * funday");
    EXPECT_NE(weekday.error().message().find("day of week"), std::string::npos) << weekday.error().message();
}

TEST(Backoff, DoublesFromBaseUpToMaxWithJitterInTheUpperHalf) {
    jobs::RetryPolicy p{.base = 1s, .max = 60s};
    EXPECT_EQ(jobs::backoff(p, 1, 0.0), 500ms);
    EXPECT_NEAR(std::chrono::duration<double>(jobs::backoff(p, 1, 0.999999)).count(), 1.0, 1e-6);
    EXPECT_EQ(jobs::backoff(p, 3, 0.0), 2s);
    EXPECT_EQ(jobs::backoff(p, 3, 0.5), 3s);
    EXPECT_EQ(jobs::backoff(p, 20, 0.0), 30s);  // capped at max
    EXPECT_EQ(jobs::backoff(p, 20, 1.0), 60s);
}

}  // namespace
