#include "todo.hpp"

#include <keel/http/json.hpp>
#include <keel/web/form.hpp>

#include <charconv>
#include <chrono>
#include <ctime>

namespace todo {
namespace {

using keel::Task;
using keel::http::Problem;
using keel::http::ProblemOr;
using keel::http::Request;
using keel::http::Response;

// Rules run after binding, together with type errors: one 400 lists every bad field.
void validate_title(keel::json::Validator& v, const std::string& title) {
    v.length("/title", title, 1, 200);
}

}  // namespace

void keel_validate(const NewTodo& in, keel::json::Validator& v) {
    validate_title(v, in.title);
}
void keel_validate(const TodoQuery& in, keel::json::Validator& v) {
    if (in.limit) {
        v.range("/limit", *in.limit, 1, 100);
    }
}

void keel_validate(const TodoChange& in, keel::json::Validator& v) {
    if (in.title) {
        validate_title(v, *in.title);
    }
    v.check(in.title || in.done, "", "must change at least one of title, done");
}

namespace {

/// A database error as the client should see it: busy or down → 503, the rest 500.
Problem database_problem(const keel::Error& e) {
    if (e.code() == keel::Errc::unavailable || e.code() == keel::Errc::timeout || e.code() == keel::Errc::overloaded) {
        return Problem{
            .status = 503, .detail = "the database is busy; retry shortly", .headers = {{"Retry-After", "1"}}};
    }
    return Problem{.status = 500, .detail = "internal error"};
}

/// `r` with a database error turned into its Problem; no row → 404.
template <class T>
keel::Result<T, Problem> answer(keel::Result<T> r, std::string_view id) {
    if (r) {
        return std::move(*r);
    }
    if (r.error() == keel::Errc::not_found) {
        return Problem{.status = 404, .detail = "no todo with id " + std::string(id)};
    }
    return database_problem(r.error());
}

keel::Result<std::int64_t, Problem> id_of(Request& req) {
    std::string_view text = req.param("id");
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
        return Problem{.status = 404, .detail = "no todo with id " + std::string(text)};
    }
    return id;
}

std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

constexpr const char* kColumns = "id, title, done, created_at";

Task<ProblemOr> create(keel::sqlite::Database& db, Request& req) {
    KEEL_CO_TRY(in, keel::http::bind<NewTodo>(req));
    Todo todo{.title = in.title, .done = in.done.value_or(false), .created_at = now()};
    KEEL_CO_TRY(made,
                answer(co_await db.with(req).execute("INSERT INTO todos (title, done, created_at) VALUES (?1, ?2, ?3)",
                                                     todo.title, todo.done, todo.created_at),
                       ""));
    todo.id = made.last_insert_id;
    Response res = keel::http::json_response(todo, 201);
    res.header("Location", "/v1/todos/" + std::to_string(todo.id));
    co_return res;
}

Task<ProblemOr> list(keel::sqlite::Database& db, Request& req) {
    KEEL_CO_TRY(query, keel::web::bind_query<TodoQuery>(req));  // every bad parameter in one 400
    int limit = query.limit.value_or(20);
    std::optional<bool> done = query.done;
    keel::Result<std::vector<Todo>> rows = std::vector<Todo>{};
    if (done) {
        rows = co_await db.with(req).query_all<Todo>(
            std::string("SELECT ") + kColumns + " FROM todos WHERE done = ?1 ORDER BY id LIMIT ?2", *done, limit);
    } else {
        rows = co_await db.with(req).query_all<Todo>(
            std::string("SELECT ") + kColumns + " FROM todos ORDER BY id LIMIT ?1", limit);
    }
    KEEL_CO_TRY(todos, answer(std::move(rows), ""));
    co_return keel::http::json_response(todos);
}

Task<ProblemOr> get(keel::sqlite::Database& db, Request& req) {
    KEEL_CO_TRY(id, id_of(req));  // 404 for "/v1/todos/abc"
    auto row = co_await db.with(req).query_one<Todo>("SELECT id, title, done, created_at FROM todos WHERE id = ?1", id);
    KEEL_CO_TRY(todo, answer(std::move(row), req.param("id")));  // no row → 404, busy → 503
    co_return keel::http::json_response(todo);
}

Task<ProblemOr> update(keel::sqlite::Database& db, Request& req) {
    KEEL_CO_TRY(id, id_of(req));
    KEEL_CO_TRY(change, keel::http::bind<TodoChange>(req));
    KEEL_CO_TRY(todo, answer(co_await db.with(req).query_one<Todo>(
                                 std::string("UPDATE todos SET title = COALESCE(?2, title), done = COALESCE(?3, done) "
                                             "WHERE id = ?1 RETURNING ") +
                                     kColumns,
                                 id, change.title, change.done),
                             req.param("id")));
    co_return keel::http::json_response(todo);
}

Task<ProblemOr> remove(keel::sqlite::Database& db, Request& req) {
    KEEL_CO_TRY(id, id_of(req));
    KEEL_CO_TRY(done, answer(co_await db.with(req).execute("DELETE FROM todos WHERE id = ?1", id), ""));
    if (done.rows_affected == 0) {
        co_return Problem{.status = 404, .detail = "no todo with id " + std::string(req.param("id"))};
    }
    co_return Response(204);
}

}  // namespace

void add_routes(keel::router::Router& r, keel::sqlite::Database& db) {
    using keel::router::json;
    using keel::router::problem;
    r.post("/v1/todos", [&db](Request& req) { return create(db, req); })
        .doc({.summary = "Create a todo",
              .tags = {"todos"},
              .request = keel::router::body<NewTodo>(),
              .responses = {{201, json<Todo>("the new todo (Location: its URL)")},
                            {400, problem("the body failed validation (every bad field named)")},
                            {415, problem("the body is not JSON")}}});
    r.get("/v1/todos", [&db](Request& req) { return list(db, req); })
        .doc({.summary = "List todos, oldest first",
              .tags = {"todos"},
              .query = keel::router::query<TodoQuery>(),
              .responses = {{200, json<std::vector<Todo>>("the todos")}, {400, problem("a bad query parameter")}}});
    r.get("/v1/todos/{id}", [&db](Request& req) { return get(db, req); })
        .doc({.summary = "Read a todo",
              .tags = {"todos"},
              .responses = {{200, json<Todo>("the todo")}, {404, problem("no such todo")}}});
    r.patch("/v1/todos/{id}", [&db](Request& req) { return update(db, req); })
        .doc({.summary = "Change a todo's title or state",
              .tags = {"todos"},
              .request = keel::router::body<TodoChange>(),
              .responses = {{200, json<Todo>("the changed todo")},
                            {400, problem("the body failed validation")},
                            {404, problem("no such todo")}}});
    r.del("/v1/todos/{id}", [&db](Request& req) { return remove(db, req); })
        .doc({.summary = "Delete a todo",
              .tags = {"todos"},
              .responses = {{204, {.description = "deleted"}}, {404, problem("no such todo")}}});
}

}  // namespace todo
