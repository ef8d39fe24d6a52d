// The C++ of docs/jobs.md and of keel/jobs/'s header examples, in a context that compiles (see
// building_apis.cpp). Nothing here runs; it only has to build.
#include <keel/jobs/observe.hpp>
#include <keel/jobs/postgres_store.hpp>
#include <keel/jobs/runner.hpp>
#include <keel/jobs/sqlite_store.hpp>
#include <keel/keel.hpp>
#include <keel/observe/metrics.hpp>

#include <string>

namespace docs_jobs {

using keel::Result;
using keel::Task;

struct SendMail {
    std::string to;
    std::string subject;
};
KEEL_JSON(SendMail, to, subject)

struct PlanChanged {
    std::int64_t account = 0;
};
KEEL_JSON(PlanChanged, account)

struct Mailer {
    Task<Result<void>> send(const SendMail&, std::int64_t idempotency_key);
};

// ---- docs/jobs.md
namespace page {
Task<Result<void>> start(keel::sqlite::Database& db, Mailer& mailer, keel::LoopThread& background) {
    keel::jobs::SqliteStore jobs(db);  // or PostgresStore(pg, {.conninfo = url})
    co_await jobs.migrate();           // keel's tables, in keel_jobs_migrations

    keel::jobs::Runner runner(jobs, {.queues = {{.name = "default", .concurrency = 8}}});
    runner.handle<SendMail>("mail.send", [&](keel::jobs::Context& ctx, SendMail m) -> Task<Result<void>> {
        co_return co_await mailer.send(m, /* idempotency key */ ctx.job().id);
    });
    runner.start(background.loop());

    co_await jobs.enqueue(keel::jobs::make("mail.send", SendMail{"a@example.com", "Welcome"}));
    co_return Result<void>{};
}
}  // namespace page

namespace jobs = keel::jobs;
namespace postgres = keel::postgres;
namespace sqlite = keel::sqlite;

// ---- jobs/job.hpp
Task<void> enqueue(jobs::Store& store) {
    co_await store.enqueue(jobs::make("mail.send", SendMail{"a@b.c", "hi"}));  // Result<Enqueued>
}

// ---- jobs/runner.hpp
void run(jobs::Store& store, Mailer& mailer, keel::LoopThread& background) {
    jobs::Runner runner(store, {.queues = {{.name = "default", .concurrency = 8}}});
    runner.handle<SendMail>("mail.send", [&](jobs::Context& ctx, SendMail m) -> Task<Result<void>> {
        co_return co_await mailer.send(m, ctx.job().id);  // the id dedupes a second delivery
    });
    runner.every("links.purge", std::chrono::hours(1), jobs::NewJob{.kind = "links.purge"});
    runner.start(background.loop());
    // ... serve until SIGTERM ...
    background.block_on([&] { return runner.shutdown(); });
}

// ---- jobs/sqlite_store.hpp
Task<void> sqlite_transaction(sqlite::Database& db, std::int64_t id, const PlanChanged& event) {
    jobs::SqliteStore jobs(db);  // sqlite::Database
    co_await jobs.migrate();
    // In the caller's transaction: the job exists if and only if it commits.
    co_await db.write([&](sqlite::Conn& c) {
        return c.transaction([&]() -> Result<void> {
            KEEL_TRY_VOID(c.execute("UPDATE accounts SET plan = ?1 WHERE id = ?2", "pro", id));
            KEEL_TRY_VOID(jobs.enqueue(c, jobs::make("plan.changed", event)));
            return {};
        });
    });
}

// ---- jobs/postgres_store.hpp
Task<Result<void>> postgres_transaction(postgres::Database& db, const std::string& url, const PlanChanged& event) {
    jobs::PostgresStore jobs(db, {.conninfo = url});  // postgres::Database, LISTEN's options
    KEEL_CO_TRY(conn, co_await db.acquire());
    auto changed = co_await postgres::transaction(*conn, [&]() -> Task<Result<jobs::Enqueued>> {
        KEEL_CO_TRY_VOID(co_await conn->exec("UPDATE accounts SET plan = 'pro' WHERE id = 7"));
        co_return co_await jobs.enqueue(*conn, jobs::make("plan.changed", event));  // same transaction
    });  // the job exists if and only if the transaction committed
    co_return changed ? Result<void>{} : Result<void>(changed.error());
}

// ---- jobs/cron.hpp
jobs::UnixMillis cron(jobs::UnixMillis now) {
    auto nightly = jobs::Cron::parse("30 2 * * *");    // 02:30 UTC every day
    jobs::UnixMillis next = nightly->next_after(now);  // the first 02:30 after now
    return next;
}

// ---- jobs/observe.hpp
void observe(keel::metrics::Registry& registry, keel::Router& admin, jobs::Store& store, jobs::Runner& runner) {
    registry.add_collector(jobs::collector(runner));
    admin.get("/debug/jobs", jobs::debug_page(store, &runner));
    admin.post("/debug/jobs/{id}/retry", jobs::retry_action(store));
    admin.post("/debug/jobs/{id}/discard", jobs::discard_action(store));
}

}  // namespace docs_jobs
