#include <keel/sqlite/sqlite.hpp>

#include <sqlite3.h>

#include <string>
#include <thread>
#include <vector>

namespace keel::sqlite {

// ---- Stmt ---------------------------------------------------------------------------------

Stmt::~Stmt() {
    if (stmt_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
}

Stmt& Stmt::bind(int index, std::int64_t v) {
    sqlite3_bind_int64(stmt_, index, v);
    return *this;
}

Stmt& Stmt::bind(int index, double v) {
    sqlite3_bind_double(stmt_, index, v);
    return *this;
}

Stmt& Stmt::bind(int index, std::string_view v) {
    sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    return *this;
}

Stmt& Stmt::bind(int index, std::nullptr_t) {
    sqlite3_bind_null(stmt_, index);
    return *this;
}

Result<bool> Stmt::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return conn_->last_error(rc, sqlite3_sql(stmt_));
}

Result<std::int64_t> Stmt::run() {
    for (;;) {
        KEEL_TRY(row, step());
        if (!row) {
            return static_cast<std::int64_t>(sqlite3_changes64(conn_->db_));
        }
    }
}

int Stmt::columns() const noexcept {
    return sqlite3_column_count(stmt_);
}
bool Stmt::is_null(int col) const noexcept {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
std::string_view Stmt::column_name(int col) const noexcept {
    const char* n = sqlite3_column_name(stmt_, col);
    return n ? n : "?";
}

int Stmt::column_index(std::string_view name) const noexcept {
    for (int i = 0, n = columns(); i < n; ++i) {
        const char* c = sqlite3_column_name(stmt_, i);
        if (c != nullptr && name == c) {
            return i;
        }
    }
    return -1;
}

void Stmt::type_error(int col, std::string_view wanted) const {
    static constexpr const char* kTypes[] = {"?", "integer", "real", "text", "blob", "null"};
    int t = sqlite3_column_type(stmt_, col);
    throw db::RowError("keel: sqlite: column " + std::to_string(col) + " (" + std::string(column_name(col)) + ") is " +
                       kTypes[t >= 1 && t <= 5 ? t : 0] + ", cannot read it as " + std::string(wanted) +
                       " in: " + sqlite3_sql(stmt_));
}

std::int64_t Stmt::get_int(int col) const {
    if (col < 0 || col >= columns() || sqlite3_column_type(stmt_, col) != SQLITE_INTEGER) {
        type_error(col, "an integer");
    }
    return sqlite3_column_int64(stmt_, col);
}

double Stmt::get_double(int col) const {
    int t = col >= 0 && col < columns() ? sqlite3_column_type(stmt_, col) : SQLITE_NULL;
    if (t != SQLITE_FLOAT && t != SQLITE_INTEGER) {
        type_error(col, "a number");
    }
    return sqlite3_column_double(stmt_, col);
}

std::string Stmt::get_text(int col) const {
    int t = col >= 0 && col < columns() ? sqlite3_column_type(stmt_, col) : SQLITE_NULL;
    if (t != SQLITE_TEXT && t != SQLITE_BLOB) {
        type_error(col, "text");
    }
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

// ---- Conn ---------------------------------------------------------------------------------

Result<std::unique_ptr<Conn>> Conn::open(const Options& options) {
    sqlite3* db = nullptr;
    // NOMUTEX: a connection is used by one thread at a time (the pool hands it out).
    int flags =
        (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return Error::with_detail(Errc::unavailable, "sqlite: cannot open \"" + options.path + "\": " + msg);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(
        db, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(options.busy_timeout).count()));
    std::unique_ptr<Conn> conn(new Conn(db));
    // WAL lets readers run while the writer writes; NORMAL sync is durable across process
    // crashes (only an OS crash can lose the last transactions), the usual WAL pairing.
    const char* setup = options.read_only ? "PRAGMA foreign_keys = ON;"
                                          : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                                            "PRAGMA foreign_keys = ON;";
    // Switching to WAL can answer "locked" at once, without waiting in the busy handler, while
    // another process opens the same new file: retry it for as long as the busy timeout.
    auto give_up = std::chrono::steady_clock::now() + options.busy_timeout;
    for (;;) {
        auto done = conn->exec(setup);
        if (done || done.error().code() != Errc::unavailable || std::chrono::steady_clock::now() >= give_up) {
            KEEL_TRY_VOID(std::move(done));
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return conn;
}

Conn::~Conn() {
    for (auto& [sql, stmt] : cache_) {
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db_);
}

Error Conn::last_error(int rc, std::string_view what) {
    int primary = rc & 0xff;
    std::string msg = std::string("sqlite: ") + sqlite3_errmsg(db_);
    if (!what.empty()) {
        msg += " (in: " + std::string(what.substr(0, 200)) + ")";
    }
    switch (primary) {
        case SQLITE_CONSTRAINT:
            if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
                return Error::with_detail(Errc::conflict, std::move(msg));
            }
            return Error::with_detail(Errc::invalid_argument, std::move(msg));
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return Error::with_detail(Errc::unavailable, std::move(msg));
        case SQLITE_IOERR:
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_CANTOPEN:
        case SQLITE_FULL:
            broken_ = true;
            return Error::with_detail(Errc::unavailable, std::move(msg));
        default:
            return Error::with_detail(Errc::internal, std::move(msg));
    }
}

Result<void> Conn::exec(std::string_view sql) {
    std::string text(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) {
        return last_error(rc, sql);
    }
    return {};
}

Result<Stmt> Conn::prepare(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it == cache_.end()) {
        sqlite3_stmt* stmt = nullptr;
        int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                    nullptr);
        if (rc != SQLITE_OK) {
            return last_error(rc, sql);
        }
        it = cache_.emplace(std::string(sql), stmt).first;
    }
    return Stmt(this, it->second);
}

std::int64_t Conn::last_insert_rowid() const noexcept {
    return sqlite3_last_insert_rowid(db_);
}

// ---- Database -----------------------------------------------------------------------------

namespace {
db::Pool<Conn>::ConnectFn connector(Options file) {
    return [file = std::move(file)]() -> Task<Result<std::unique_ptr<Conn>>> {
        auto opened = co_await keel::offload([&] { return Conn::open(file); });
        if (!opened) {
            co_return std::move(opened).error();
        }
        co_return std::move(*opened);
    };
}
}  // namespace

Database::Database(DatabaseOptions options)
    : options_(std::move(options)),
      // SQLite allows one writer at a time: a pool of one serializes writers without
      // SQLITE_BUSY spinning.
      writer_(db::PoolOptions{.max_open = 1, .max_idle = 1, .acquire_timeout = options_.readers.acquire_timeout},
              connector(options_.file)),
      readers_(options_.readers, connector(options_.file)) {}

Database::~Database() {
    close();
}

Task<Result<int>> Database::migrate(std::span<const db::Migration> migrations) {
    co_return co_await write([migrations](Conn& c) { return sqlite::migrate(c, migrations); });
}

}  // namespace keel::sqlite

namespace keel::sqlite {

Result<int> migrate(Conn& conn, std::span<const db::Migration> migrations, std::string_view table) {
    const std::string t(table);
    KEEL_TRY_VOID(conn.exec("CREATE TABLE IF NOT EXISTS " + t +
                            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
    // IMMEDIATE takes the write lock now, so two processes starting together apply once.
    KEEL_TRY_VOID(conn.exec("BEGIN IMMEDIATE"));
    auto body = [&]() -> Result<int> {
        std::vector<int> applied;
        {
            KEEL_TRY(st, conn.prepare("SELECT version FROM " + t + " ORDER BY version"));
            for (;;) {
                KEEL_TRY(row, st.step());
                if (!row) {
                    break;
                }
                applied.push_back(st.get<int>(0));
            }
        }
        KEEL_TRY(todo, db::plan_migrations(migrations, applied));
        for (const db::Migration* m : todo) {
            if (auto r = conn.exec(m->sql); !r) {
                return Error::with_detail(
                    r.error().code(), "migration " + std::string(m->name) + ": " + std::string(r.error().message()));
            }
            KEEL_TRY(st,
                     conn.prepare("INSERT INTO " + t + " (version, name, applied_at) VALUES (?1, ?2, unixepoch())"));
            st.bind_all(m->version, m->name);
            KEEL_TRY_VOID(st.run());
        }
        return static_cast<int>(todo.size());
    };
    auto result = body();
    if (!result) {
        (void)conn.exec("ROLLBACK");
        return result;
    }
    KEEL_TRY_VOID(conn.exec("COMMIT"));
    return result;
}

}  // namespace keel::sqlite
