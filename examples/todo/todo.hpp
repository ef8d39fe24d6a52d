#pragma once
// The todo API's routes: /v1/todos CRUD on SQLite. main.cpp wires them into an App; the tests
// call them in-process (todo_test.cpp) and over HTTP with curl (tests/examples).

#include <keel/router/router.hpp>
#include <keel/sqlite/sqlite.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace todo {

/// One todo, as stored (columns of the same names) and as sent (JSON members of the same names).
struct Todo {
    std::int64_t id = 0;
    std::string title = {};
    bool done = false;
    std::int64_t created_at = 0;  ///< Unix seconds
};
KEEL_DESCRIBE(Todo, id, title, done, created_at)

/// POST /v1/todos
struct NewTodo {
    std::string title = {};
    std::optional<bool> done = {};
};
KEEL_DESCRIBE(NewTodo, title, done)

/// PATCH /v1/todos/{id}: absent members are unchanged.
struct TodoChange {
    std::optional<std::string> title = {};
    std::optional<bool> done = {};
};
KEEL_DESCRIBE(TodoChange, title, done)

/// GET /v1/todos?done=true|false&limit=1..100 (both optional)
struct TodoQuery {
    std::optional<bool> done = {};
    std::optional<int> limit = {};
};
KEEL_DESCRIBE(TodoQuery, done, limit)

/// The embedded migrations (migrations/*.sql, by keel_embed_migrations).
std::span<const keel::db::Migration> migrations();

/// POST, GET (list: ?done=true|false&limit=1..100), GET one, PATCH and DELETE under /v1/todos,
/// each documented for the OpenAPI document (keel/openapi/openapi.hpp).
void add_routes(keel::router::Router& r, keel::sqlite::Database& db);

}  // namespace todo
