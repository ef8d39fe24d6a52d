#include <keel/postgres/postgres.hpp>

#include <libpq-fe.h>
#include <sys/epoll.h>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace keel::postgres {
namespace {

// Type OIDs from pg_type.h (stable across PostgreSQL versions).
constexpr Oid kBool = 16, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25, kOid = 26, kJson = 114,
              kFloat4 = 700, kFloat8 = 701, kBpchar = 1042, kVarchar = 1043, kNumeric = 1700;

// A value in binary format (Query::binary_rows) is big-endian.
std::uint64_t big_endian(const char* p, int n) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
        v = v << 8 | static_cast<unsigned char>(p[i]);
    }
    return v;
}

// Binary integers: int2, int4, int8 signed, oid unsigned.
std::int64_t binary_int(Oid t, const char* p, int n) noexcept {
    switch (n) {
        case 2:
            return static_cast<std::int16_t>(big_endian(p, 2));
        case 4:
            return t == kOid ? static_cast<std::int64_t>(big_endian(p, 4))
                             : static_cast<std::int32_t>(big_endian(p, 4));
        default:
            return static_cast<std::int64_t>(big_endian(p, 8));
    }
}

std::string trimmed(const char* msg) {
    std::string s = msg ? msg : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

std::string type_name(Oid t) {
    switch (t) {
        case kBool:
            return "boolean";
        case kInt8:
            return "bigint";
        case kInt2:
            return "smallint";
        case kInt4:
            return "integer";
        case kFloat4:
            return "real";
        case kFloat8:
            return "double precision";
        case kNumeric:
            return "numeric";
        case kText:
            return "text";
        case kVarchar:
            return "varchar";
        case 1184:
            return "timestamptz";
        case 1114:
            return "timestamp";
        case 1082:
            return "date";
        default:
            return "type oid " + std::to_string(t);
    }
}

}  // namespace

// ---- Rows / Row ---------------------------------------------------------------------------

void Rows::Clear::operator()(pg_result* r) const noexcept {
    PQclear(r);
}

Rows::Rows(pg_result* res) : res_(res, Clear{}) {}

std::size_t Rows::size() const noexcept {
    return res_ ? static_cast<std::size_t>(PQntuples(res_.get())) : 0;
}

std::int64_t Rows::affected() const noexcept {
    if (!res_) {
        return 0;
    }
    const char* n = PQcmdTuples(res_.get());
    return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

bool Row::is_null(int col) const {
    return PQgetisnull(res_, row_, col) != 0;
}

int Row::column_index(std::string_view name) const noexcept {
    for (int i = 0, n = PQnfields(res_); i < n; ++i) {
        if (name == PQfname(res_, i)) {
            return i;
        }
    }
    return -1;
}

int Row::column(std::string_view name) const {
    int i = column_index(name);
    if (i < 0) {
        throw db::RowError("keel: postgres: no column \"" + std::string(name) + "\" in the result");
    }
    return i;
}

void Row::check(int col, bool ok, std::string_view wanted) const {
    if (col < 0 || col >= PQnfields(res_)) {
        throw db::RowError("keel: postgres: column " + std::to_string(col) + " is out of range (the result has " +
                           std::to_string(PQnfields(res_)) + ")");
    }
    if (PQgetisnull(res_, row_, col)) {
        throw db::RowError("keel: postgres: column \"" + std::string(PQfname(res_, col)) +
                           "\" is NULL, cannot read it as " + std::string(wanted) + " (use std::optional)");
    }
    if (!ok) {
        throw db::RowError("keel: postgres: column \"" + std::string(PQfname(res_, col)) + "\" is " +
                           type_name(PQftype(res_, col)) + ", cannot read it as " + std::string(wanted));
    }
}

std::int64_t Row::get_int(int col) const {
    Oid t = col >= 0 && col < PQnfields(res_) ? PQftype(res_, col) : 0;
    check(col, t == kInt8 || t == kInt4 || t == kInt2 || t == kOid, "an integer");
    if (PQfformat(res_, col) == 1) {
        return binary_int(t, PQgetvalue(res_, row_, col), PQgetlength(res_, row_, col));
    }
    return std::strtoll(PQgetvalue(res_, row_, col), nullptr, 10);
}

double Row::get_double(int col) const {
    Oid t = col >= 0 && col < PQnfields(res_) ? PQftype(res_, col) : 0;
    check(col, t == kFloat8 || t == kFloat4 || t == kNumeric || t == kInt8 || t == kInt4 || t == kInt2, "a number");
    const char* v = PQgetvalue(res_, row_, col);
    if (PQfformat(res_, col) == 1) {
        if (t == kFloat8) {
            return std::bit_cast<double>(big_endian(v, 8));
        }
        if (t == kFloat4) {
            return std::bit_cast<float>(static_cast<std::uint32_t>(big_endian(v, 4)));
        }
        check(col, t != kNumeric, "a number from binary rows (read numeric in text format)");
        return static_cast<double>(binary_int(t, v, PQgetlength(res_, row_, col)));
    }
    return std::strtod(v, nullptr);
}

bool Row::get_bool(int col) const {
    Oid t = col >= 0 && col < PQnfields(res_) ? PQftype(res_, col) : 0;
    check(col, t == kBool, "a boolean");
    return PQgetvalue(res_, row_, col)[0] == (PQfformat(res_, col) == 1 ? 1 : 't');
}

std::string Row::get_text(int col) const {
    if (col >= 0 && col < PQnfields(res_) && PQfformat(res_, col) == 1) {
        // Binary bytes are text only for the text types; the others need text format.
        Oid t = PQftype(res_, col);
        check(col, t == kText || t == kVarchar || t == kBpchar || t == kName || t == kJson,
              "text from binary rows (read it in text format)");
    }
    check(col, true, "text");
    return std::string(PQgetvalue(res_, row_, col), static_cast<std::size_t>(PQgetlength(res_, row_, col)));
}

// ---- Conn ---------------------------------------------------------------------------------

/// Suspends the coroutine until on_io (or the deadline timer) resumes it.
class Conn::IoWait {
  public:
    explicit IoWait(Conn* c) : c_(c) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { c_->waiting_ = h; }
    void await_resume() const noexcept {}

  private:
    Conn* c_;
};

Conn::Conn(pg_conn* c, ConnectOptions options) : conn_(c), options_(std::move(options)) {}

Conn::~Conn() {
    PQfinish(conn_);
}

bool Conn::broken() const noexcept {
    // Left inside a transaction (a caller's bug or an error mid-way): not reusable either.
    return broken_ || PQstatus(conn_) != CONNECTION_OK || PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

void Conn::on_io(std::uint32_t events) {
    ready_events_ |= events;
    if (auto h = std::exchange(waiting_, {})) {
        h.resume();
    }
}

Error Conn::connection_error(std::string_view what) {
    if (PQstatus(conn_) == CONNECTION_BAD) {
        broken_ = true;
    }
    return Error::with_detail(Errc::unavailable,
                              "postgres: " + std::string(what) + ": " + trimmed(PQerrorMessage(conn_)));
}

Error Conn::result_error(const pg_result* res) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string code = state ? state : "";
    std::string msg = "postgres: " + trimmed(PQresultErrorMessage(res));
    if (PQstatus(conn_) == CONNECTION_BAD) {
        broken_ = true;
        return Error::with_detail(Errc::unavailable, std::move(msg));
    }
    if (code == "23505") {
        return Error::with_detail(Errc::conflict, std::move(msg));
    }
    if (code.rfind("23", 0) == 0 || code.rfind("22", 0) == 0) {
        return Error::with_detail(Errc::invalid_argument, std::move(msg));
    }
    if (code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0) {
        broken_ = true;  // connection failure / server shutting down
        return Error::with_detail(Errc::unavailable, std::move(msg));
    }
    if (code == "40001" || code == "40P01" || code.rfind("53", 0) == 0) {
        return Error::with_detail(Errc::unavailable, std::move(msg));  // retryable
    }
    return Error::with_detail(Errc::internal, std::move(msg));
}

Task<Result<void>> Conn::wait_io(std::uint32_t events, TimePoint deadline) {
    Loop* loop = Loop::current();
    KEEL_INVARIANT(loop != nullptr);
    int fd = PQsocket(conn_);
    if (fd < 0) {
        broken_ = true;
        co_return Error(Errc::unavailable, "postgres: the connection has no socket");
    }
    ready_events_ = 0;
    if (auto r = loop->watch(fd, events, this); !r) {
        broken_ = true;
        co_return std::move(r).error();
    }
    bool timed_out = false;
    TimerId timer = loop->run_at(deadline, [this, &timed_out] {
        timed_out = true;
        if (auto h = std::exchange(waiting_, {})) {
            h.resume();
        }
    });
    co_await IoWait(this);
    loop->cancel(timer);
    loop->unwatch(fd);
    if (timed_out) {
        broken_ = true;  // a command may be half done: the connection cannot be reused
        co_return Error(Errc::timeout, "postgres: deadline exceeded");
    }
    co_return Result<void>{};
}

Task<Result<void>> Conn::flush(TimePoint deadline) {
    for (;;) {
        int f = PQflush(conn_);
        if (f == 0) {
            co_return Result<void>{};
        }
        if (f < 0) {
            co_return connection_error("write");
        }
        // Read while waiting to write, or a server blocked on a full send buffer deadlocks us.
        KEEL_CO_TRY_VOID(co_await wait_io(EPOLLIN | EPOLLOUT, deadline));
        if ((ready_events_ & EPOLLIN) && !PQconsumeInput(conn_)) {
            co_return connection_error("read");
        }
    }
}

Task<Result<pg_result*>> Conn::next_result(TimePoint deadline) {
    while (PQisBusy(conn_)) {
        KEEL_CO_TRY_VOID(co_await wait_io(EPOLLIN | EPOLLRDHUP, deadline));
        if (!PQconsumeInput(conn_)) {
            co_return connection_error("read");
        }
    }
    co_return PQgetResult(conn_);
}

Task<Result<Rows>> Conn::finish_command(TimePoint deadline) {
    Rows last;
    std::optional<Error> error;
    for (;;) {
        auto next = co_await next_result(deadline);
        if (!next) {
            co_return std::move(next).error();
        }
        pg_result* res = *next;
        if (res == nullptr) {
            break;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
            last = Rows(res);
        } else {
            if (!error) {
                error = result_error(res);
            }
            PQclear(res);
        }
    }
    if (error) {
        co_return std::move(*error);
    }
    co_return last;
}

namespace {
struct ParamArrays {
    std::vector<const char*> values;
    explicit ParamArrays(const Params& p) {
        values.reserve(p.values().size());
        for (const auto& v : p.values()) {
            values.push_back(v ? v->c_str() : nullptr);
        }
    }
    int count() const { return static_cast<int>(values.size()); }
    const char* const* data() const { return values.empty() ? nullptr : values.data(); }
};
}  // namespace

Task<Result<Rows>> Conn::query_params(std::string sql, Params params) {
    if (broken_) {
        co_return Error(Errc::unavailable, "postgres: connection is broken");
    }
    const TimePoint deadline = Clock::now() + options_.query_timeout;
    ParamArrays args(params);
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
        std::string name = "keel_" + std::to_string(++statement_counter_);
        if (!PQsendPrepare(conn_, name.c_str(), sql.c_str(), args.count(), nullptr)) {
            co_return connection_error("prepare");
        }
        KEEL_CO_TRY_VOID(co_await flush(deadline));
        KEEL_CO_TRY(prepared, co_await finish_command(deadline));
        (void)prepared;
        it = prepared_.emplace(std::move(sql), std::move(name)).first;
    }
    if (!PQsendQueryPrepared(conn_, it->second.c_str(), args.count(), args.data(), nullptr, nullptr, 0)) {
        co_return connection_error("send");
    }
    KEEL_CO_TRY_VOID(co_await flush(deadline));
    co_return co_await finish_command(deadline);
}

Task<Result<std::vector<Rows>>> Conn::pipeline(std::vector<Query> batch) {
    if (broken_) {
        co_return Error(Errc::unavailable, "postgres: connection is broken");
    }
    const TimePoint deadline = Clock::now() + options_.query_timeout;
    if (!PQenterPipelineMode(conn_)) {
        co_return connection_error("pipeline");
    }
    // For each query, whether a Prepare's result comes before its own.
    std::vector<bool> prepare_first(batch.size(), false);
    std::vector<std::string> new_names;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Query& q = batch[i];
        ParamArrays args(q.params);
        int sent;
        if (q.prepared) {
            auto it = prepared_.find(q.sql);
            if (it == prepared_.end()) {
                std::string name = "keel_" + std::to_string(++statement_counter_);
                if (!PQsendPrepare(conn_, name.c_str(), q.sql.c_str(), args.count(), nullptr)) {
                    broken_ = true;
                    co_return connection_error("send");
                }
                prepare_first[i] = true;
                new_names.push_back(q.sql);
                it = prepared_.emplace(q.sql, std::move(name)).first;
            }
            sent = PQsendQueryPrepared(conn_, it->second.c_str(), args.count(), args.data(), nullptr, nullptr,
                                       q.binary_rows ? 1 : 0);
        } else {
            sent = PQsendQueryParams(conn_, q.sql.c_str(), args.count(), nullptr, args.data(), nullptr, nullptr,
                                     q.binary_rows ? 1 : 0);
        }
        if (!sent) {
            broken_ = true;  // half a pipeline is on the wire
            co_return connection_error("send");
        }
    }
    if (!PQpipelineSync(conn_)) {
        broken_ = true;
        co_return connection_error("sync");
    }
    KEEL_CO_TRY_VOID(co_await flush(deadline));
    std::vector<Rows> out;
    out.reserve(batch.size());
    std::optional<Error> error;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (prepare_first[i]) {
            KEEL_CO_TRY(prep, co_await next_result(deadline));
            if (prep != nullptr) {
                ExecStatusType st = PQresultStatus(prep);
                if (st != PGRES_COMMAND_OK && !error && st != PGRES_PIPELINE_ABORTED) {
                    error = result_error(prep);
                }
                PQclear(prep);
                KEEL_CO_TRY(end, co_await next_result(deadline));  // the Prepare's closing null
                (void)end;
            }
        }
        for (;;) {  // one statement's results end with a null
            KEEL_CO_TRY(res, co_await next_result(deadline));
            if (res == nullptr) {
                break;
            }
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                out.emplace_back(res);
            } else {
                if (!error && st != PGRES_PIPELINE_ABORTED) {
                    error = result_error(res);
                }
                PQclear(res);
            }
        }
    }
    KEEL_CO_TRY(sync, co_await next_result(deadline));
    bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(conn_)) {
        broken_ = true;
        co_return connection_error("pipeline did not end cleanly");
    }
    if (error) {
        for (const std::string& sql : new_names) {
            prepared_.erase(sql);  // may not exist on the server: prepare again next time
        }
        if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
            (void)co_await exec("ROLLBACK");  // the batch opened a transaction the error aborted
        }
        co_return std::move(*error);
    }
    co_return out;
}

Task<Result<void>> Conn::exec(std::string sql) {
    if (broken_) {
        co_return Error(Errc::unavailable, "postgres: connection is broken");
    }
    const TimePoint deadline = Clock::now() + options_.query_timeout;
    if (!PQsendQuery(conn_, sql.c_str())) {
        co_return connection_error("send");
    }
    KEEL_CO_TRY_VOID(co_await flush(deadline));
    KEEL_CO_TRY(rows, co_await finish_command(deadline));
    (void)rows;
    co_return Result<void>{};
}

Task<Result<std::vector<Notification>>> Conn::notifications(Duration wait) {
    std::vector<Notification> out;
    auto collect = [&] {
        while (PGnotify* n = PQnotifies(conn_)) {
            out.push_back({.channel = n->relname, .payload = n->extra});
            PQfreemem(n);
        }
    };
    if (broken_ || !PQconsumeInput(conn_)) {
        co_return connection_error("read");
    }
    collect();
    if (!out.empty()) {
        co_return out;
    }
    Loop* loop = Loop::current();
    KEEL_INVARIANT(loop != nullptr);
    int fd = PQsocket(conn_);
    if (auto r = loop->watch(fd, EPOLLIN | EPOLLRDHUP, this); !r) {
        broken_ = true;
        co_return std::move(r).error();
    }
    ready_events_ = 0;
    TimerId timer = loop->run_after(wait, [this] {
        if (auto h = std::exchange(waiting_, {})) {
            h.resume();
        }
    });
    co_await IoWait(this);
    loop->cancel(timer);
    loop->unwatch(fd);
    if (!PQconsumeInput(conn_)) {
        co_return connection_error("read");
    }
    collect();
    co_return out;
}

void Conn::interrupt_wait() {
    if (auto h = std::exchange(waiting_, {})) {
        Loop::current()->defer([h] { h.resume(); });
    }
}

Task<bool> Conn::ping() {
    auto r = co_await exec("");
    co_return r.has_value() && !broken_;
}

Task<Result<std::unique_ptr<Conn>>> Conn::connect(ConnectOptions options) {
    pg_conn* raw = PQconnectStart(options.conninfo.c_str());
    if (raw == nullptr) {
        co_return Error(Errc::unavailable, "postgres: out of memory");
    }
    const TimePoint deadline = Clock::now() + options.connect_timeout;
    std::unique_ptr<Conn> conn(new Conn(raw, std::move(options)));
    if (PQstatus(raw) == CONNECTION_BAD) {
        co_return conn->connection_error("connect");
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;  // what PQconnectStart implies
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            co_return conn->connection_error("connect");
        }
        auto waited = co_await conn->wait_io(st == PGRES_POLLING_READING ? EPOLLIN : EPOLLOUT, deadline);
        if (!waited) {
            co_return Error(Errc::unavailable, "postgres: connect: timed out");
        }
        st = PQconnectPoll(raw);
    }
    if (PQsetnonblocking(raw, 1) != 0) {
        co_return conn->connection_error("set non-blocking");
    }
    PQsetNoticeProcessor(
        raw, [](void*, const char*) {}, nullptr);  // notices are not errors
    conn->broken_ = false;
    co_return conn;
}

std::unique_ptr<db::Pool<Conn>> make_pool(db::PoolOptions pool, ConnectOptions connect) {
    return std::make_unique<db::Pool<Conn>>(
        pool, [connect]() { return Conn::connect(connect); }, [](Conn& c) { return c.ping(); });
}

Task<Result<int>> migrate(Conn& conn, std::span<const db::Migration> migrations, std::string_view table) {
    const std::string t(table);
    KEEL_CO_TRY_VOID(co_await conn.exec("CREATE TABLE IF NOT EXISTS " + t +
                                        " (version integer PRIMARY KEY, name text NOT NULL, "
                                        "applied_at timestamptz NOT NULL DEFAULT now())"));
    // One transaction; the advisory lock makes instances that start together take turns.
    co_return co_await transaction(conn, [&]() -> Task<Result<int>> {
        KEEL_CO_TRY_VOID(co_await conn.exec("SELECT pg_advisory_xact_lock(7260134)"));
        KEEL_CO_TRY(rows, co_await conn.query("SELECT version FROM " + t + " ORDER BY version"));
        std::vector<int> applied;
        for (auto row : rows) {
            applied.push_back(row.get<int>(0));
        }
        KEEL_CO_TRY(todo, db::plan_migrations(migrations, applied));
        for (const db::Migration* m : todo) {
            if (auto r = co_await conn.exec(std::string(m->sql)); !r) {
                co_return Error::with_detail(
                    r.error().code(), "migration " + std::string(m->name) + ": " + std::string(r.error().message()));
            }
            KEEL_CO_TRY(
                ins, co_await conn.query("INSERT INTO " + t + " (version, name) VALUES ($1, $2)", m->version, m->name));
            (void)ins;
        }
        co_return static_cast<int>(todo.size());
    });
}

Database::Database(db::PoolOptions pool, ConnectOptions connect) : pool_(make_pool(pool, std::move(connect))) {}

Task<Result<int>> Database::migrate(std::span<const db::Migration> migrations, std::string_view table) {
    KEEL_CO_TRY(conn, co_await pool_->acquire());
    co_return co_await postgres::migrate(*conn, migrations, table);
}

}  // namespace keel::postgres
