// The jobs tables on SQLite. Times are Unix milliseconds (INTEGER); a job's errors are a JSON
// array kept with it (json_insert), its latest error also in last_error for the failures list.
#include <keel/jobs/sqlite_store.hpp>

#include "rows.hpp"
#include "wakeup.hpp"

#include <algorithm>
#include <array>

namespace keel::jobs {
namespace {

// clang-format off
constexpr std::array<db::Migration, 1> kMigrations = {{
    {1, "0001_keel_jobs.sql", R"sql(
CREATE TABLE keel_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: handlers dedupe on it
    kind TEXT NOT NULL,
    queue TEXT NOT NULL,
    args TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'available',
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    attempted_at INTEGER,
    finished_at INTEGER,
    leased_by TEXT,
    lease_until INTEGER,
    unique_key TEXT,
    unique_until INTEGER,
    trace_parent TEXT NOT NULL DEFAULT '',
    errored_at INTEGER,
    last_error TEXT,
    errors TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX keel_jobs_due ON keel_jobs (queue, priority DESC, run_at, id) WHERE state = 'available';
CREATE INDEX keel_jobs_leases ON keel_jobs (queue, lease_until) WHERE state = 'running';
CREATE INDEX keel_jobs_leased_by ON keel_jobs (leased_by) WHERE state = 'running';
CREATE INDEX keel_jobs_unique ON keel_jobs (kind, unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX keel_jobs_errored ON keel_jobs (errored_at) WHERE last_error IS NOT NULL;
CREATE INDEX keel_jobs_finished ON keel_jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE keel_job_schedules (name TEXT PRIMARY KEY, last_tick INTEGER NOT NULL);
)sql"},
}};
// clang-format on

}  // namespace

SqliteStore::SqliteStore(sqlite::Database& db, WallClock clock)
    : db_(db), clock_(clock), wakeup_(std::make_unique<detail::Wakeup>()) {}

SqliteStore::~SqliteStore() = default;

Task<Result<int>> SqliteStore::migrate() {
    co_return co_await db_.write([](sqlite::Conn& c) { return sqlite::migrate(c, kMigrations, kMigrationsTable); });
}

Result<Enqueued> SqliteStore::enqueue(sqlite::Conn& tx, const NewJob& job) {
    KEEL_TRY_VOID(check_new_job(job));
    UnixMillis now = clock_();
    if (job.unique_key) {
        auto existing = tx.query_one<std::int64_t>(sql::kFindUnique, job.kind, *job.unique_key, now);
        if (existing) {
            return Enqueued{.id = *existing, .existed = true};
        }
        if (existing.error() != Errc::not_found) {
            return std::move(existing).error();
        }
    }
    std::optional<UnixMillis> unique_until;
    if (job.unique_key && job.unique_for) {
        unique_until = now + to_millis(*job.unique_for);
    }
    KEEL_TRY(id, tx.query_one<std::int64_t>(sql::kInsertValues, job.kind, job.queue, job.args, job.priority,
                                            job.max_attempts, job.run_at.value_or(now), now, job.unique_key,
                                            unique_until, job.trace_parent));
    wakeup_->notify();
    count_enqueued();
    return Enqueued{.id = id, .existed = false};
}

Task<Result<Enqueued>> SqliteStore::enqueue(NewJob job) {
    co_return co_await db_.write(
        [&](sqlite::Conn& c) { return c.transaction([&]() -> Result<Enqueued> { return enqueue(c, job); }); });
}

Task<Result<std::vector<Job>>> SqliteStore::claim(std::string queue, int limit, std::string worker, UnixMillis now,
                                                  UnixMillis lease_until) {
    auto claimed = co_await db_.write([&](sqlite::Conn& c) {
        return c.query_all<Job>(std::string(sql::kClaimHead) + ") RETURNING " + std::string(sql::kJobColumns), queue,
                                now, worker, lease_until, limit);
    });
    if (claimed) {
        sort_for_running(*claimed);
    }
    co_return claimed;
}

Task<Result<void>> SqliteStore::heartbeat(std::string worker, std::vector<std::int64_t> jobs, UnixMillis lease_until) {
    std::string ids = "[";  // a JSON array
    for (std::int64_t id : jobs) {
        ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
    }
    ids += "]";
    auto done = co_await db_.write([&](sqlite::Conn& c) {
        return c.execute(std::string(sql::kHeartbeatHead) + "id IN (SELECT value FROM json_each(?3))", worker,
                         lease_until, ids);
    });
    if (!done) {
        co_return std::move(done).error();
    }
    co_return Result<void>{};
}

Task<Result<bool>> SqliteStore::finish(std::string worker, Finish f, UnixMillis now) {
    bool ends = f.state != State::available;
    auto done = co_await db_.write([&](sqlite::Conn& c) {
        return c.execute(
            "UPDATE keel_jobs SET state = ?4, run_at = CASE WHEN ?4 = 'available' THEN ?5 ELSE run_at END, "
            "attempt = attempt - ?6, finished_at = ?9, leased_by = NULL, lease_until = NULL, "
            "errored_at = CASE WHEN ?8 = '' THEN errored_at ELSE ?7 END, "
            "last_error = CASE WHEN ?8 = '' THEN last_error ELSE ?8 END, "
            "errors = CASE WHEN ?8 = '' THEN errors "
            "ELSE json_insert(errors, '$[#]', json_object('attempt', ?2, 'at', ?7, 'error', ?8)) END "
            "WHERE id = ?1 AND attempt = ?2 AND leased_by = ?3 AND state = 'running'",
            f.id, f.attempt, worker, to_string(f.state), f.run_at, f.counts_as_attempt ? 0 : 1, now, f.error,
            ends ? std::optional<UnixMillis>(now) : std::nullopt);
    });
    if (!done) {
        co_return std::move(done).error();
    }
    co_return done->rows_affected == 1;
}

Task<Result<int>> SqliteStore::release(std::string worker) {
    auto done = co_await db_.write([&](sqlite::Conn& c) { return c.execute(sql::kRelease, worker); });
    if (!done) {
        co_return std::move(done).error();
    }
    co_return static_cast<int>(done->rows_affected);
}

Task<Result<bool>> SqliteStore::enqueue_tick(std::string name, UnixMillis tick, NewJob job) {
    co_return co_await db_.write([&](sqlite::Conn& c) {
        return c.transaction([&]() -> Result<bool> {
            KEEL_TRY(moved, c.execute(sql::kMoveSchedule, name, tick));
            if (moved.rows_affected == 0) {
                return false;  // this tick (or a later one) is some process's already
            }
            KEEL_TRY(made, enqueue(c, job));
            (void)made;
            return true;
        });
    });
}

Task<Result<std::optional<UnixMillis>>> SqliteStore::last_tick(std::string name) {
    co_return db::or_none(co_await db_.query_one<std::int64_t>(std::string(sql::kLastTick), name));
}

Task<Result<std::vector<Count>>> SqliteStore::counts() {
    KEEL_CO_TRY(rows, co_await db_.query_all<CountRow>(std::string(sql::kCounts)));
    co_return to_counts(rows);
}

Task<Result<std::vector<Failure>>> SqliteStore::failures(int limit) {
    KEEL_CO_TRY(rows, co_await db_.query_all<FailureRow>(std::string(sql::kFailures), limit));
    co_return to_failures(rows);
}

Task<Result<std::optional<Job>>> SqliteStore::find(std::int64_t id) {
    co_return db::or_none(co_await db_.query_one<Job>(sql::find_job(), id));
}

Task<Result<bool>> SqliteStore::retry(std::int64_t id, UnixMillis now) {
    auto done = co_await db_.write([&](sqlite::Conn& c) {
        return c.execute(
            "UPDATE keel_jobs SET state = 'available', run_at = ?2, finished_at = NULL, "
            "max_attempts = MAX(max_attempts, attempt + 1) "
            "WHERE id = ?1 AND state IN ('available', 'discarded', 'cancelled')",
            id, now);
    });
    if (!done) {
        co_return std::move(done).error();
    }
    if (done->rows_affected == 1) {
        wakeup_->notify();
    }
    co_return done->rows_affected == 1;
}

Task<Result<bool>> SqliteStore::discard(std::int64_t id, UnixMillis now) {
    auto done = co_await db_.write([&](sqlite::Conn& c) { return c.execute(sql::kDiscard, id, now); });
    if (!done) {
        co_return std::move(done).error();
    }
    co_return done->rows_affected == 1;
}

Task<Result<int>> SqliteStore::prune(UnixMillis finished_before, UnixMillis discarded_before) {
    auto done =
        co_await db_.write([&](sqlite::Conn& c) { return c.execute(sql::kPrune, finished_before, discarded_before); });
    if (!done) {
        co_return std::move(done).error();
    }
    co_return static_cast<int>(done->rows_affected);
}

Task<void> SqliteStore::wait_for_work(Duration timeout) {
    co_await wakeup_->wait(timeout);
}

void SqliteStore::interrupt_wait() {
    wakeup_->notify();
}

}  // namespace keel::jobs
