#pragma once
/// keel::jobs::PostgresStore: jobs in the service's PostgreSQL database, shared by every
/// process on it. Claims take due rows with FOR UPDATE SKIP LOCKED (processes never wait on
/// each other's rows); an enqueue NOTIFYs channel `keel_jobs` inside its transaction, so
/// runners, which LISTEN on a connection of their own, wake when it commits (the poll is only a
/// safety net).
///
///     jobs::PostgresStore jobs(db, {.conninfo = url});  // postgres::Database, LISTEN's options
///     KEEL_CO_TRY(conn, co_await db.acquire());
///     auto changed = co_await postgres::transaction(*conn, [&]() -> Task<Result<jobs::Enqueued>> {
///         KEEL_CO_TRY_VOID(co_await conn->exec("UPDATE accounts SET plan = 'pro' WHERE id = 7"));
///         co_return co_await jobs.enqueue(*conn, jobs::make("plan.changed", event));  // same transaction
///     });  // the job exists if and only if the transaction committed

#include <keel/jobs/store.hpp>
#include <keel/postgres/postgres.hpp>

#include <memory>
#include <mutex>
#include <unordered_map>

namespace keel::jobs {

class PostgresStore final : public Store {
  public:
    PostgresStore(postgres::Database& db, postgres::ConnectOptions listen, WallClock clock = system_clock_millis);
    ~PostgresStore() override;

    /// Adds `job` inside the transaction open on `tx`.
    Task<Result<Enqueued>> enqueue(postgres::Conn& tx, NewJob job);

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
    Task<Result<std::int64_t>> affected(std::string sql, postgres::Params params);

    postgres::Database& db_;
    postgres::ConnectOptions listen_;
    WallClock clock_;
    // One per runner's loop: a connection that LISTENs on keel_jobs, used on that loop only.
    struct Listener;
    Listener& listener();

    std::mutex listeners_mu_;
    std::unordered_map<Loop*, std::unique_ptr<Listener>> listeners_;
};

}  // namespace keel::jobs
