// The jobs tables on PostgreSQL: the same columns as on SQLite (times in Unix milliseconds,
// bigint), errors as a jsonb array. Concurrency: claims skip rows other processes hold; an
// enqueue with a unique key takes a transaction-scoped advisory lock on (kind, key) so two
// processes cannot both find no job and both add one; schedule ticks are a conditional upsert
// of one row per schedule, which PostgreSQL serializes.
#include <keel/jobs/postgres_store.hpp>

#include "rows.hpp"
#include "wakeup.hpp"

#include <array>

namespace keel::jobs {
namespace {

// clang-format off
constexpr std::array<db::Migration, 1> kMigrations = {{
    {1, "0001_keel_jobs.sql", R"sql(
CREATE TABLE keel_jobs (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    queue text NOT NULL,
    args text NOT NULL,
    priority integer NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'available',
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    run_at bigint NOT NULL,
    created_at bigint NOT NULL,
    attempted_at bigint,
    finished_at bigint,
    leased_by text,
    lease_until bigint,
    unique_key text,
    unique_until bigint,
    trace_parent text NOT NULL DEFAULT '',
    errored_at bigint,
    last_error text,
    errors jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX keel_jobs_due ON keel_jobs (queue, priority DESC, run_at, id) WHERE state = 'available';
CREATE INDEX keel_jobs_leases ON keel_jobs (queue, lease_until) WHERE state = 'running';
CREATE INDEX keel_jobs_leased_by ON keel_jobs (leased_by) WHERE state = 'running';
CREATE INDEX keel_jobs_unique ON keel_jobs (kind, unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX keel_jobs_errored ON keel_jobs (errored_at) WHERE last_error IS NOT NULL;
CREATE INDEX keel_jobs_finished ON keel_jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE keel_job_schedules (name text PRIMARY KEY, last_tick bigint NOT NULL);
)sql"},
}};
// clang-format on

constexpr std::string_view kChannel = "keel_jobs";

}  // namespace

PostgresStore::PostgresStore(postgres::Database& db, postgres::ConnectOptions listen, WallClock clock)
    : db_(db), listen_(std::move(listen)), clock_(clock) {}

PostgresStore::~PostgresStore() = default;

Task<Result<int>> PostgresStore::migrate() {
    co_return co_await db_.migrate(kMigrations, kMigrationsTable);
}

Task<Result<Enqueued>> PostgresStore::enqueue(postgres::Conn& tx, NewJob job) {
    KEEL_CO_TRY_VOID(check_new_job(job));
    UnixMillis now = clock_();
    if (job.unique_key) {
        KEEL_CO_TRY(locked, co_await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))",
                                              job.kind, *job.unique_key));
        (void)locked;
        auto existing = co_await tx.query_one<std::int64_t>(db::postgres_placeholders(sql::kFindUnique), job.kind,
                                                            *job.unique_key, now);
        if (existing) {
            co_return Enqueued{.id = *existing, .existed = true};
        }
        if (existing.error() != Errc::not_found) {
            co_return std::move(existing).error();
        }
    }
    std::optional<UnixMillis> unique_until;
    if (job.unique_key && job.unique_for) {
        unique_until = now + to_millis(*job.unique_for);
    }
    // The NOTIFY is part of the statement's transaction: runners hear of the job once it commits.
    KEEL_CO_TRY(id, co_await tx.query_one<std::int64_t>(
                        "WITH job AS (" + db::postgres_placeholders(sql::kInsertValues) +
                            ") SELECT id FROM job, pg_notify('" + std::string(kChannel) + "', $2)",
                        job.kind, job.queue, job.args, job.priority, job.max_attempts, job.run_at.value_or(now), now,
                        job.unique_key, unique_until, job.trace_parent));
    count_enqueued();
    co_return Enqueued{.id = id, .existed = false};
}

Task<Result<Enqueued>> PostgresStore::enqueue(NewJob job) {
    KEEL_CO_TRY(conn, co_await db_.acquire());
    if (!job.unique_key) {
        co_return co_await enqueue(*conn, std::move(job));  // one statement: its own transaction
    }
    co_return co_await postgres::transaction(*conn, [&]() { return enqueue(*conn, std::move(job)); });
}

Task<Result<std::vector<Job>>> PostgresStore::claim(std::string queue, int limit, std::string worker, UnixMillis now,
                                                    UnixMillis lease_until) {
    KEEL_CO_TRY(conn, co_await db_.acquire());
    auto claimed =
        co_await conn->query_all<Job>(db::postgres_placeholders(sql::kClaimHead) +
                                          " FOR UPDATE SKIP LOCKED) RETURNING " + std::string(sql::kJobColumns),
                                      queue, now, worker, lease_until, limit);
    if (claimed) {
        sort_for_running(*claimed);
    }
    co_return claimed;
}

Task<Result<std::int64_t>> PostgresStore::affected(std::string sql, postgres::Params params) {
    KEEL_CO_TRY(conn, co_await db_.acquire());
    KEEL_CO_TRY(rows, co_await conn->query_params(std::move(sql), std::move(params)));
    co_return rows.affected();
}

Task<Result<void>> PostgresStore::heartbeat(std::string worker, std::vector<std::int64_t> jobs,
                                            UnixMillis lease_until) {
    std::string ids = "{";  // an array literal
    for (std::int64_t id : jobs) {
        ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
    }
    ids += "}";
    KEEL_CO_TRY(n, co_await affected(db::postgres_placeholders(sql::kHeartbeatHead) + "id = ANY (CAST($3 AS bigint[]))",
                                     postgres::Params::of(worker, lease_until, ids)));
    (void)n;
    co_return Result<void>{};
}

Task<Result<bool>> PostgresStore::finish(std::string worker, Finish f, UnixMillis now) {
    bool ends = f.state != State::available;
    KEEL_CO_TRY(
        n, co_await affected(
               "UPDATE keel_jobs SET state = $4, run_at = CASE WHEN $4 = 'available' THEN $5::bigint ELSE run_at "
               "END, attempt = attempt - $6::int, finished_at = $9::bigint, leased_by = NULL, lease_until = NULL, "
               "errored_at = CASE WHEN $8::text = '' THEN errored_at ELSE $7::bigint END, "
               "last_error = CASE WHEN $8::text = '' THEN last_error ELSE $8::text END, "
               "errors = CASE WHEN $8::text = '' THEN errors ELSE errors || jsonb_build_array(jsonb_build_object("
               "'attempt', $2::int, 'at', $7::bigint, 'error', $8::text)) END "
               "WHERE id = $1 AND attempt = $2 AND leased_by = $3 AND state = 'running'",
               postgres::Params::of(f.id, f.attempt, worker, to_string(f.state), f.run_at, f.counts_as_attempt ? 0 : 1,
                                    now, f.error, ends ? std::optional<UnixMillis>(now) : std::nullopt)));
    co_return n == 1;
}

Task<Result<int>> PostgresStore::release(std::string worker) {
    KEEL_CO_TRY(n, co_await affected(db::postgres_placeholders(sql::kRelease), postgres::Params::of(worker)));
    co_return static_cast<int>(n);
}

Task<Result<bool>> PostgresStore::enqueue_tick(std::string name, UnixMillis tick, NewJob job) {
    KEEL_CO_TRY(conn, co_await db_.acquire());
    co_return co_await postgres::transaction(*conn, [&]() -> Task<Result<bool>> {
        KEEL_CO_TRY(moved, co_await conn->query(db::postgres_placeholders(sql::kMoveSchedule), name, tick));
        if (moved.empty()) {
            co_return false;  // this tick (or a later one) is some process's already
        }
        KEEL_CO_TRY(made, co_await enqueue(*conn, std::move(job)));
        (void)made;
        co_return true;
    });
}

Task<Result<std::optional<UnixMillis>>> PostgresStore::last_tick(std::string name) {
    co_return db::or_none(co_await db_.query_one<std::int64_t>(db::postgres_placeholders(sql::kLastTick), name));
}

Task<Result<std::vector<Count>>> PostgresStore::counts() {
    KEEL_CO_TRY(rows, co_await db_.query_all<CountRow>(std::string(sql::kCounts)));
    co_return to_counts(rows);
}

Task<Result<std::vector<Failure>>> PostgresStore::failures(int limit) {
    KEEL_CO_TRY(rows, co_await db_.query_all<FailureRow>(db::postgres_placeholders(sql::kFailures), limit));
    co_return to_failures(rows);
}

Task<Result<std::optional<Job>>> PostgresStore::find(std::int64_t id) {
    // Named, not a temporary in the co_await: GCC 12 mishandles temporaries with destructors there.
    std::string find = db::postgres_placeholders(sql::find_job());
    co_return db::or_none(co_await db_.query_one<Job>(std::move(find), id));
}

Task<Result<bool>> PostgresStore::retry(std::int64_t id, UnixMillis now) {
    KEEL_CO_TRY(conn, co_await db_.acquire());
    KEEL_CO_TRY(rows, co_await conn->query(
                          "WITH job AS (UPDATE keel_jobs SET state = 'available', run_at = $2, finished_at = NULL, "
                          "max_attempts = GREATEST(max_attempts, attempt + 1) "
                          "WHERE id = $1 AND state IN ('available', 'discarded', 'cancelled') RETURNING queue) "
                          "SELECT pg_notify('" +
                              std::string(kChannel) + "', queue) FROM job",
                          id, now));
    co_return rows.size() == 1;
}

Task<Result<bool>> PostgresStore::discard(std::int64_t id, UnixMillis now) {
    KEEL_CO_TRY(n, co_await affected(db::postgres_placeholders(sql::kDiscard), postgres::Params::of(id, now)));
    co_return n == 1;
}

Task<Result<int>> PostgresStore::prune(UnixMillis finished_before, UnixMillis discarded_before) {
    KEEL_CO_TRY(n, co_await affected(db::postgres_placeholders(sql::kPrune),
                                     postgres::Params::of(finished_before, discarded_before)));
    co_return static_cast<int>(n);
}

struct PostgresStore::Listener {
    std::unique_ptr<postgres::Conn> conn;
    bool in_wait = false;
    bool interrupted = false;  // interrupt_wait() while not waiting: the next wait returns at once
    detail::Wakeup fallback;   // the wait while the connection cannot be made
};

PostgresStore::Listener& PostgresStore::listener() {
    std::lock_guard lock(listeners_mu_);
    auto& l = listeners_[Loop::current()];
    if (!l) {
        l = std::make_unique<Listener>();
    }
    return *l;
}

Task<void> PostgresStore::wait_for_work(Duration timeout) {
    Listener& l = listener();
    if (std::exchange(l.interrupted, false)) {
        co_return;
    }
    if (!l.conn) {
        auto conn = co_await postgres::Conn::connect(listen_);
        std::string listen = "LISTEN " + std::string(kChannel);
        if (conn && (co_await (*conn)->exec(std::move(listen)))) {
            l.conn = std::move(*conn);
            co_return;  // notifications sent before LISTEN were missed: claim now
        }
        co_await l.fallback.wait(timeout);  // the database is down: try again after the poll
        co_return;
    }
    l.in_wait = true;
    auto got = co_await l.conn->notifications(timeout);
    l.in_wait = false;
    if (!got) {
        l.conn.reset();  // reconnected on the next wait
    }
}

void PostgresStore::interrupt_wait() {
    Listener& l = listener();
    if (l.in_wait && l.conn) {
        l.conn->interrupt_wait();
    } else if (!l.conn) {
        l.fallback.notify();
    } else {
        l.interrupted = true;
    }
}

}  // namespace keel::jobs
