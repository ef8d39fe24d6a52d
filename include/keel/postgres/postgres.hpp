#pragma once
/// keel::postgres: PostgreSQL through libpq in non-blocking mode. The connection's socket is
/// watched by the loop of the coroutine that awaits it, so a query suspends the coroutine and
/// never blocks a thread:
///
///     auto lease = co_await pool.acquire();                        // db::Pool<pg::Conn>
///     KEEL_CO_TRY(conn, std::move(lease));
///     auto rows = co_await conn->query("SELECT url, clicks FROM links WHERE slug = $1", slug);
///     if (!rows) co_return rows.error();                             // Errc::unavailable, ...
///     for (auto row : *rows) use(row.get<std::string>(0), row.get<std::int64_t>(1));
///
/// - query() prepares each distinct SQL text once per connection and reuses the statement.
/// - pipeline() sends a batch in one round trip (libpq pipeline mode) and stops at the first
///   failing statement; with BEGIN/COMMIT around it, it is one atomic write. Queries marked
///   `prepared` are prepared inside the same round trip the first time.
/// - Errors: unique violation → Errc::conflict; other constraint violations →
///   Errc::invalid_argument; lost connection, server shutting down → Errc::unavailable and the
///   connection reports broken() so the pool closes it; deadline → Errc::timeout (broken too).
/// - Rows are read in text format, or binary (Query::binary_rows); Row::get<T> checks the
///   column's type and throws db::RowError naming the column on a mismatch (int8 into
///   std::string is fine in text format; text into an integer is not).
///
/// libpq's headers stay out of this file.

#include <keel/core/loop.hpp>
#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/db/migrate.hpp>
#include <keel/db/pool.hpp>
#include <keel/db/queries.hpp>
#include <keel/db/row_error.hpp>
#include <keel/db/scan.hpp>

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace keel::postgres {

struct ConnectOptions {
    std::string conninfo = {};  ///< "postgres://user@127.0.0.1:5432/db" or "host=... port=..."
    Duration connect_timeout = std::chrono::seconds(5);
    Duration query_timeout = std::chrono::seconds(30);
};

/// Query parameters in text format (NULL as nullopt).
class Params {
  public:
    template <class... A>
    static Params of(const A&... args) {
        Params p;
        p.values_.reserve(sizeof...(A));
        (p.add(args), ...);
        return p;
    }
    void add(std::nullptr_t) { values_.emplace_back(std::nullopt); }
    void add(bool v) { values_.emplace_back(v ? "t" : "f"); }
    void add(std::string_view v) { values_.emplace_back(std::string(v)); }
    void add(const std::string& v) { values_.emplace_back(v); }
    void add(const char* v) { values_.emplace_back(std::string(v)); }
    void add(double v) { values_.emplace_back(std::to_string(v)); }
    template <class T, class = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
    void add(T v) {
        char buf[24];
        auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
        values_.emplace_back(std::string(buf, end));
    }
    template <class T>
    void add(const std::optional<T>& v) {
        v ? add(*v) : add(nullptr);
    }
    const std::vector<std::optional<std::string>>& values() const noexcept { return values_; }

  private:
    std::vector<std::optional<std::string>> values_;
};

class Rows;

class Row {
  public:
    bool is_null(int col) const;
    /// Typed access by 0-based column index or by column name (see the file comment).
    template <class T>
    T get(int col) const {
        if constexpr (db::detail::is_optional<T>::value) {
            if (is_null(col)) {
                return std::nullopt;
            }
            return get<typename T::value_type>(col);
        } else if constexpr (std::is_same_v<T, bool>) {
            return get_bool(col);
        } else if constexpr (std::is_integral_v<T>) {
            return static_cast<T>(get_int(col));
        } else if constexpr (std::is_floating_point_v<T>) {
            return static_cast<T>(get_double(col));
        } else {
            static_assert(std::is_same_v<T, std::string>, "pg::Row::get: unsupported type");
            return get_text(col);
        }
    }
    template <class T>
    T get(std::string_view name) const {
        return get<T>(column(name));
    }
    /// The index of the column called `name`; column() throws db::RowError when there is none.
    int column(std::string_view name) const;
    int column_index(std::string_view name) const noexcept;

  private:
    friend class Rows;
    Row(const pg_result* res, int row) : res_(res), row_(row) {}
    std::int64_t get_int(int col) const;
    double get_double(int col) const;
    bool get_bool(int col) const;
    std::string get_text(int col) const;
    void check(int col, bool ok, std::string_view wanted) const;
    const pg_result* res_;
    int row_;
};

/// The rows of one statement (may be none, e.g. for an UPDATE without RETURNING).
class Rows {
  public:
    Rows() = default;
    explicit Rows(pg_result* res);
    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    /// Rows inserted / updated / deleted by the statement.
    std::int64_t affected() const noexcept;
    Row operator[](std::size_t i) const { return Row(res_.get(), static_cast<int>(i)); }

    class iterator {
      public:
        Row operator*() const { return (*rows_)[i_]; }
        iterator& operator++() {
            ++i_;
            return *this;
        }
        bool operator!=(const iterator& o) const { return i_ != o.i_; }

      private:
        friend class Rows;
        iterator(const Rows* rows, std::size_t i) : rows_(rows), i_(i) {}
        const Rows* rows_;
        std::size_t i_;
    };
    iterator begin() const { return {this, 0}; }
    iterator end() const { return {this, size()}; }

  private:
    struct Clear {
        void operator()(pg_result* r) const noexcept;
    };
    std::shared_ptr<pg_result> res_;
};

struct Query {
    std::string sql = {};
    Params params = {};
    /// Prepare once per connection and reuse (for statements a service sends again and again).
    bool prepared = false;
    /// Rows in PostgreSQL's binary format: the server skips formatting numbers as text and
    /// Row::get skips parsing them. Integers, floats, booleans and the text types read as usual;
    /// numeric, dates and other types must be read in text format (Row::get throws).
    bool binary_rows = false;
};

/// A NOTIFY received (channel and payload).
struct Notification {
    std::string channel;
    std::string payload;
};

class Conn final : public IoWatcher {
  public:
    /// Connects without blocking the loop (libpq's connect state machine, socket on the loop).
    static Task<Result<std::unique_ptr<Conn>>> connect(ConnectOptions options);
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    template <class... A>
    Task<Result<Rows>> query(std::string sql, const A&... args) {
        return query_params(std::move(sql), Params::of(args...));
    }
    Task<Result<Rows>> query_params(std::string sql, Params params);

    /// The first row read as a T (keel/db/scan.hpp), or db::errors::kNoRows.
    template <class T, class... A>
    Task<Result<T>> query_one(std::string sql, A... args) {
        KEEL_CO_TRY(rows, co_await query_params(std::move(sql), Params::of(args...)));
        if (rows.empty()) {
            co_return db::errors::kNoRows;
        }
        co_return db::scan<T>(rows[0]);
    }
    /// Every row read as a T.
    template <class T, class... A>
    Task<Result<std::vector<T>>> query_all(std::string sql, A... args) {
        KEEL_CO_TRY(rows, co_await query_params(std::move(sql), Params::of(args...)));
        std::vector<T> out;
        out.reserve(rows.size());
        for (Row row : rows) {
            out.push_back(db::scan<T>(row));
        }
        co_return out;
    }
    /// Runs a statement: rows inserted / updated / deleted (use RETURNING for generated ids).
    template <class... A>
    Task<Result<db::Executed>> execute(std::string sql, A... args) {
        KEEL_CO_TRY(rows, co_await query_params(std::move(sql), Params::of(args...)));
        co_return db::Executed{rows.affected(), 0};
    }
    /// One round trip for the whole batch; the results in order, or the first error.
    Task<Result<std::vector<Rows>>> pipeline(std::vector<Query> batch);
    /// The simple protocol: one or more statements without parameters (schema changes).
    Task<Result<void>> exec(std::string sql);
    /// Notifications on the channels this connection LISTENs to: those already received, or
    /// the first to arrive within `wait` (none: an empty list). A connection kept for this.
    Task<Result<std::vector<Notification>>> notifications(Duration wait);
    /// Ends a notifications() wait at once (from the waiter's loop).
    void interrupt_wait();
    /// A round trip to the server (an empty query); false when the connection is unusable.
    Task<bool> ping();

    /// True when the connection must not be reused: lost, timed out, or left in a transaction.
    bool broken() const noexcept;
    /// Prepared statements cached on this connection.
    std::size_t prepared() const noexcept { return prepared_.size(); }

    void on_io(std::uint32_t events) override;

  private:
    class IoWait;
    explicit Conn(pg_conn* c, ConnectOptions options);
    Task<Result<void>> wait_io(std::uint32_t events, TimePoint deadline);
    Task<Result<void>> flush(TimePoint deadline);
    /// The next result of the current command (null at its end).
    Task<Result<pg_result*>> next_result(TimePoint deadline);
    /// Collects a command's results (until null): the last one, or the first error.
    Task<Result<Rows>> finish_command(TimePoint deadline);
    Error connection_error(std::string_view what);
    Error result_error(const pg_result* res);

    pg_conn* conn_;
    ConnectOptions options_;
    std::unordered_map<std::string, std::string> prepared_;  // sql → statement name
    std::uint64_t statement_counter_ = 0;                    // names are never reused
    bool broken_ = false;
    // The coroutine waiting for readiness, and what it got.
    std::coroutine_handle<> waiting_;
    std::uint32_t ready_events_ = 0;
};

/// fn() -> Task<Result<R>> between BEGIN and COMMIT on `conn`; ROLLBACK when it fails.
template <class F>
auto transaction(Conn& conn, F fn) -> decltype(fn()) {
    KEEL_CO_TRY_VOID(co_await conn.exec("BEGIN"));
    auto r = co_await fn();
    if (!r) {
        (void)co_await conn.exec("ROLLBACK");
        co_return r;
    }
    KEEL_CO_TRY_VOID(co_await conn.exec("COMMIT"));
    co_return r;
}

/// A pool whose connections come from Conn::connect and are pinged after idling.
std::unique_ptr<db::Pool<Conn>> make_pool(db::PoolOptions pool, ConnectOptions connect);

/// Applies the migrations the database lacks in one transaction, under an advisory lock so
/// that instances starting together apply them once. Returns how many were applied. `table`
/// records them (a library's own schema keeps its own table).
Task<Result<int>> migrate(Conn& conn, std::span<const db::Migration> migrations,
                          std::string_view table = "schema_migrations");

/// A pool with the same calls as sqlite::Database, each on a connection of its own:
///
///     postgres::Database db({.max_open = 8}, {.conninfo = "postgresql://app@127.0.0.1/app"});
///     auto todo = co_await db.with(req).query_one<Todo>("SELECT id, title, done FROM todos WHERE id = $1", id);
///
/// For several statements on one connection (a transaction, a pipeline), acquire() one.
class Database : public db::Queries<Database> {
  public:
    Database(db::PoolOptions pool, ConnectOptions connect);

    /// query_one, query_all and execute (keel/db/queries.hpp), each on a connection of the pool.
    using db::Queries<Database>::with;
    Task<Result<int>> migrate(std::span<const db::Migration> migrations, std::string_view table = "schema_migrations");

    /// The same calls, given up when `stop` fires while they wait for a connection. (The
    /// coroutines are static: a Scoped is a temporary, gone before they run.)
    class Scoped {
      public:
        template <class T, class... A>
        Task<Result<T>> query_one(std::string sql, A... args) {
            return one<T>(*db_.pool_, stop_, std::move(sql), std::move(args)...);
        }
        template <class T, class... A>
        Task<Result<std::vector<T>>> query_all(std::string sql, A... args) {
            return all<T>(*db_.pool_, stop_, std::move(sql), std::move(args)...);
        }
        template <class... A>
        Task<Result<db::Executed>> execute(std::string sql, A... args) {
            return exec(*db_.pool_, stop_, std::move(sql), std::move(args)...);
        }

      private:
        friend class Database;
        Scoped(Database& db, StopToken stop) : db_(db), stop_(stop) {}
        template <class T, class... A>
        static Task<Result<T>> one(db::Pool<Conn>& pool, StopToken stop, std::string sql, A... args) {
            KEEL_CO_TRY(conn, co_await pool.acquire(stop));
            co_return co_await conn->template query_one<T>(std::move(sql), std::move(args)...);
        }
        template <class T, class... A>
        static Task<Result<std::vector<T>>> all(db::Pool<Conn>& pool, StopToken stop, std::string sql, A... args) {
            KEEL_CO_TRY(conn, co_await pool.acquire(stop));
            co_return co_await conn->template query_all<T>(std::move(sql), std::move(args)...);
        }
        template <class... A>
        static Task<Result<db::Executed>> exec(db::Pool<Conn>& pool, StopToken stop, std::string sql, A... args) {
            KEEL_CO_TRY(conn, co_await pool.acquire(stop));
            co_return co_await conn->execute(std::move(sql), std::move(args)...);
        }
        Database& db_;
        StopToken stop_;
    };
    Scoped with(StopToken stop) { return Scoped(*this, stop); }

    /// A connection of the pool, for transactions and pipelines.
    Task<Result<db::Pool<Conn>::Lease>> acquire(StopToken stop = {}) { return pool_->acquire(stop); }
    db::Pool<Conn>& pool() noexcept { return *pool_; }
    db::PoolStats stats() const { return pool_->stats(); }
    void close() { pool_->close(); }

  private:
    std::unique_ptr<db::Pool<Conn>> pool_;
};

}  // namespace keel::postgres
