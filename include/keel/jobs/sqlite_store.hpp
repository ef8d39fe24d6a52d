#pragma once
/// keel::jobs::SqliteStore: jobs in the service's SQLite database. Every write goes through the
/// database's single writer, so claiming needs no locking beyond it; a runner in this process
/// is woken by every enqueue made through this store (SQLite is one process's database).
///
///     jobs::SqliteStore jobs(db);  // sqlite::Database
///     co_await jobs.migrate();
///     // In the caller's transaction: the job exists if and only if it commits.
///     co_await db.write([&](sqlite::Conn& c) {
///         return c.transaction([&]() -> Result<void> {
///             KEEL_TRY_VOID(c.execute("UPDATE accounts SET plan = ?1 WHERE id = ?2", "pro", id));
///             KEEL_TRY_VOID(jobs.enqueue(c, jobs::make("plan.changed", event)));
///             return {};
///         });
///     });

#include <keel/jobs/store.hpp>
#include <keel/sqlite/sqlite.hpp>

#include <memory>

namespace keel::jobs {

namespace detail {
class Wakeup;
}

class SqliteStore final : public Store {
  public:
    explicit SqliteStore(sqlite::Database& db, WallClock clock = system_clock_millis);
    ~SqliteStore() override;

    /// Adds `job` inside the caller's transaction on `tx` (the writer, in Database::write):
    /// blocking, like every Conn call. Wakes this process's runner; it claims once the
    /// transaction is over (the claim waits for the writer).
    Result<Enqueued> enqueue(sqlite::Conn& tx, const NewJob& job);

    Task<Result<int>> migrate() override;
    Task<Result<Enqueued>> enqueue(NewJob job) override;
    Task<Result<std::vector<Job>>> claim(std::string queue, int limit, std::string worker, UnixMillis now,
                                         UnixMillis lease_until) override;
    Task<Result<void>> heartbeat(std::string worker, std::vector<std::int64_t> jobs, UnixMillis lease_until) override;
    Task<Result<bool>> finish(std::string worker, Finish f, UnixMillis now) override;
    Task<Result<int>> release(std::string worker) override;
    Task<Result<bool>> enqueue_tick(std::string name, UnixMillis tick, NewJob job) override;
    Task<Result<std::optional<UnixMillis>>> last_tick(std::string name) override;
    Task<Result<std::vector<Count>>> counts() override;
    Task<Result<std::vector<Failure>>> failures(int limit) override;
    Task<Result<std::optional<Job>>> find(std::int64_t id) override;
    Task<Result<bool>> retry(std::int64_t id, UnixMillis now) override;
    Task<Result<bool>> discard(std::int64_t id, UnixMillis now) override;
    Task<Result<int>> prune(UnixMillis finished_before, UnixMillis discarded_before) override;
    Task<void> wait_for_work(Duration timeout) override;
    void interrupt_wait() override;

  private:
    sqlite::Database& db_;
    WallClock clock_;
    std::unique_ptr<detail::Wakeup> wakeup_;
};

}  // namespace keel::jobs
