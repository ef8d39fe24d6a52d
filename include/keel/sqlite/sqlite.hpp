#pragma once
/// keel::sqlite: the embedded database. A Conn is one SQLite connection (WAL mode, busy
/// timeout, foreign keys on, a prepared-statement cache); a Database is two pools of them,
/// one writer and several readers, whose calls run on the WorkerPool so that loop threads
/// never block on the disk:
///
///     sqlite::Database db({.file = {.path = "todo.db"}});
///     co_await db.migrate(todo::migrations());                               // Result<int>
///     auto todo = co_await db.query_one<Todo>("SELECT id, title, done FROM todos WHERE id = ?1", id);
///     auto all = co_await db.query_all<Todo>("SELECT id, title, done FROM todos ORDER BY id");
///     auto made = co_await db.execute("INSERT INTO todos (title) VALUES (?1)", title);
///     // made->last_insert_id, made->rows_affected
///
/// Rows are read into KEEL_DESCRIBE'd structs by column name, or into one value (see
/// keel/db/scan.hpp); query_one answers db::errors::kNoRows (Errc::not_found) for no row.
/// Queries run on the reader pool, execute() on the writer; several statements that must go
/// together run in one write() with Conn::transaction. with(req) passes a request's stop token
/// (anything with stop_token()) so a query waiting for a connection gives up with the request.
///
/// Constraint violations map to Errc::conflict (unique, primary key) or invalid_argument,
/// "database is locked" after the busy timeout to Errc::unavailable, everything else to
/// Errc::internal with SQLite's message.

#include <keel/core/offload.hpp>
#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/db/migrate.hpp>
#include <keel/db/pool.hpp>
#include <keel/db/queries.hpp>
#include <keel/db/row_error.hpp>
#include <keel/db/scan.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace keel::sqlite {

struct Options {
    std::string path;  ///< file path (created when missing)
    Duration busy_timeout = std::chrono::seconds(5);
    bool read_only = false;
};

class Conn;

/// A prepared statement borrowed from a connection's cache; reset when destroyed.
class Stmt {
  public:
    Stmt(Stmt&& o) noexcept : conn_(o.conn_), stmt_(std::exchange(o.stmt_, nullptr)) {}
    Stmt& operator=(Stmt&&) = delete;
    ~Stmt();

    /// Parameters are 1-based, like SQLite's ?1 ?2.
    Stmt& bind(int index, std::int64_t v);
    Stmt& bind(int index, int v) { return bind(index, static_cast<std::int64_t>(v)); }
    Stmt& bind(int index, bool v) { return bind(index, static_cast<std::int64_t>(v)); }
    Stmt& bind(int index, double v);
    Stmt& bind(int index, std::string_view v);
    Stmt& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }
    Stmt& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
    Stmt& bind(int index, std::nullptr_t);
    template <class T>
    Stmt& bind(int index, const std::optional<T>& v) {
        return v ? bind(index, *v) : bind(index, nullptr);
    }
    /// Binds every argument in order to ?1, ?2, ...
    template <class... A>
    Stmt& bind_all(const A&... args) {
        int i = 0;
        (bind(++i, args), ...);
        return *this;
    }

    /// Advances: true when a row is available, false when done.
    Result<bool> step();
    /// Runs to completion; returns the number of rows changed.
    Result<std::int64_t> run();

    int columns() const noexcept;
    bool is_null(int col) const noexcept;
    std::string_view column_name(int col) const noexcept;
    /// The index of the result column called `name`, or -1.
    int column_index(std::string_view name) const noexcept;

    /// Typed column access (0-based). Throws db::RowError naming the column when the stored
    /// type does not fit T (a NULL into a non-optional, text into an integer, ...).
    template <class T>
    T get(int col) const {
        if constexpr (db::detail::is_optional<T>::value) {
            if (is_null(col)) {
                return std::nullopt;
            }
            return get<typename T::value_type>(col);
        } else if constexpr (std::is_same_v<T, bool>) {
            return get_int(col) != 0;
        } else if constexpr (std::is_integral_v<T>) {
            return static_cast<T>(get_int(col));
        } else if constexpr (std::is_floating_point_v<T>) {
            return static_cast<T>(get_double(col));
        } else {
            static_assert(std::is_same_v<T, std::string>, "sqlite::Stmt::get: unsupported type");
            return get_text(col);
        }
    }

  private:
    friend class Conn;

    Stmt(Conn* conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}
    std::int64_t get_int(int col) const;
    double get_double(int col) const;
    std::string get_text(int col) const;
    [[noreturn]] void type_error(int col, std::string_view wanted) const;

    Conn* conn_;
    sqlite3_stmt* stmt_;
};

class Conn {
  public:
    static Result<std::unique_ptr<Conn>> open(const Options& options);
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    /// Runs one or more statements without parameters (schema, pragmas, transactions).
    Result<void> exec(std::string_view sql);
    /// A statement from this connection's cache (prepared on first use).
    Result<Stmt> prepare(std::string_view sql);

    std::int64_t last_insert_rowid() const noexcept;

    /// The first row of `sql` with `args` bound to ?1, ?2, ... read as a T (keel/db/scan.hpp),
    /// or db::errors::kNoRows.
    template <class T, class... A>
    Result<T> query_one(std::string_view sql, const A&... args) {
        KEEL_TRY(st, prepare(sql));
        st.bind_all(args...);
        KEEL_TRY(row, st.step());
        if (!row) {
            return db::errors::kNoRows;
        }
        return db::scan<T>(st);
    }
    /// Every row, read as T.
    template <class T, class... A>
    Result<std::vector<T>> query_all(std::string_view sql, const A&... args) {
        KEEL_TRY(st, prepare(sql));
        st.bind_all(args...);
        std::vector<T> out;
        for (;;) {
            KEEL_TRY(row, st.step());
            if (!row) {
                return out;
            }
            out.push_back(db::scan<T>(st));
        }
    }
    /// Runs a statement to completion: rows changed and the last inserted rowid.
    template <class... A>
    Result<db::Executed> execute(std::string_view sql, const A&... args) {
        KEEL_TRY(st, prepare(sql));
        st.bind_all(args...);
        KEEL_TRY(changed, st.run());
        return db::Executed{changed, last_insert_rowid()};
    }
    /// fn() -> Result<R> inside BEGIN IMMEDIATE ... COMMIT; ROLLBACK when it fails (or throws).
    /// IMMEDIATE takes the write lock at once, so a transaction never fails half-way on a lock.
    template <class F>
    auto transaction(F fn) -> decltype(fn()) {
        KEEL_TRY_VOID(exec("BEGIN IMMEDIATE"));
        try {
            auto r = fn();
            if (!r) {
                (void)exec("ROLLBACK");
                return r;
            }
            KEEL_TRY_VOID(exec("COMMIT"));
            return r;
        } catch (...) {
            (void)exec("ROLLBACK");
            throw;
        }
    }

    /// True after an error that leaves the connection unusable (I/O error, corruption).
    bool broken() const noexcept { return broken_; }

    /// Maps the connection's last error to a keel::Error (see the file comment).
    Error last_error(int rc, std::string_view what);

  private:
    friend class Stmt;
    explicit Conn(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
    bool broken_ = false;
};

/// Applies the migrations this database lacks, in one transaction (see migrate.hpp). Returns
/// how many were applied, recorded in `table`. Blocking: call it on a worker (Database::write does).
Result<int> migrate(Conn& conn, std::span<const db::Migration> migrations,
                    std::string_view table = "schema_migrations");

struct DatabaseOptions {
    Options file = {};
    db::PoolOptions readers{.max_open = 4, .max_idle = 4};
};

/// One writer connection and a pool of readers over one file. read()/write() acquire a
/// connection (waiting on the loop, not blocking it) and run fn(Conn&) -> Result<R> on the
/// WorkerPool of the awaiting loop.
class Database : public db::Queries<Database> {
  public:
    explicit Database(DatabaseOptions options);
    ~Database();

    /// fn(Conn&) -> Result<R> on a reader (read) or the writer (write), on the worker pool.
    template <class F>
    auto read(F fn, StopToken stop = {}) {
        return run(readers_, std::move(fn), stop);
    }
    template <class F>
    auto write(F fn, StopToken stop = {}) {
        return run(writer_, std::move(fn), stop);
    }

    /// query_one, query_all and execute (keel/db/queries.hpp): Conn's calls on a reader, or
    /// for execute on the writer. with(req) gives them the request's stop token.
    using db::Queries<Database>::with;
    /// Applies the migrations the database lacks (see keel/db/migrate.hpp) on the writer.
    Task<Result<int>> migrate(std::span<const db::Migration> migrations);

    /// The same calls, given up when `stop` fires while they wait for a connection.
    class Scoped {
      public:
        template <class T, class... A>
        Task<Result<T>> query_one(std::string sql, A... args) {
            return db_.read(
                [sql = std::move(sql), ... args = std::move(args)](Conn& c) { return c.query_one<T>(sql, args...); },
                stop_);
        }
        template <class T, class... A>
        Task<Result<std::vector<T>>> query_all(std::string sql, A... args) {
            return db_.read(
                [sql = std::move(sql), ... args = std::move(args)](Conn& c) { return c.query_all<T>(sql, args...); },
                stop_);
        }
        template <class... A>
        Task<Result<db::Executed>> execute(std::string sql, A... args) {
            return db_.write(
                [sql = std::move(sql), ... args = std::move(args)](Conn& c) { return c.execute(sql, args...); }, stop_);
        }

      private:
        friend class Database;
        Scoped(Database& db, StopToken stop) : db_(db), stop_(stop) {}
        Database& db_;
        StopToken stop_;
    };
    Scoped with(StopToken stop) { return Scoped(*this, stop); }

    db::PoolStats reader_stats() const { return readers_.stats(); }
    db::PoolStats writer_stats() const { return writer_.stats(); }
    void close() {
        readers_.close();
        writer_.close();
    }

  private:
    // fn is moved into the coroutine frame: the call may be awaited long after it is made.
    template <class F, class R = typename std::invoke_result_t<F&, Conn&>>
    static Task<R> run(db::Pool<Conn>& pool, F fn, StopToken stop) {
        auto lease = co_await pool.acquire(stop);
        if (!lease) {
            co_return std::move(lease).error();
        }
        Conn& conn = **lease;
        auto done = co_await keel::offload([&] { return fn(conn); });
        if (!done) {
            co_return std::move(done).error();  // worker queue full
        }
        co_return std::move(*done);
    }

    DatabaseOptions options_;
    db::Pool<Conn> writer_;
    db::Pool<Conn> readers_;
};

}  // namespace keel::sqlite
