#pragma once
/// Reading query results into C++ values, the same way for every driver (sqlite::Conn,
/// postgres::Conn): query_one<T>, query_all<T> and execute, where T is either
///   - a struct described once with KEEL_DESCRIBE (or KEEL_JSON, the same declaration): each
///     member is read from the column of the same name, whatever the column order;
///   - or a single value (integer, bool, double, std::string, std::optional of one of those),
///     read from the first column.
///
///     struct Todo { std::int64_t id = 0; std::string title; bool done = false; };
///     KEEL_DESCRIBE(Todo, id, title, done)
///
///     auto todo = co_await db.query_one<Todo>("SELECT id, title, done FROM todos WHERE id = ?1", id);
///     bool missing = !todo && todo.error() == keel::Errc::not_found;   // db::errors::kNoRows
///
/// A described member without a column of its name, or a value that does not fit its type, is
/// a db::RowError (the query and the code disagree: a bug, answered 500), not a Result.

#include <keel/core/describe.hpp>
#include <keel/core/error.hpp>
#include <keel/core/result.hpp>
#include <keel/db/row_error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace keel::db {

namespace errors {
/// query_one found no row.
inline const Error kNoRows{Errc::not_found, "no rows in the result"};
}  // namespace errors

/// What execute() reports.
struct Executed {
    std::int64_t rows_affected = 0;
    /// SQLite's last_insert_rowid() (0 on PostgreSQL: use RETURNING there).
    std::int64_t last_insert_id = 0;
};

/// query_one's answer with "no row" as nullopt instead of an error (for lookups where absence
/// is an answer, not a failure). Other errors pass through.
template <class T>
Result<std::optional<T>> or_none(Result<T> found) {
    if (found) {
        return std::optional<T>(std::move(*found));
    }
    if (found.error() == Errc::not_found) {
        return std::optional<T>{};
    }
    return std::move(found).error();
}

/// A driver's view of one result row, as scan() needs it.
template <class R>
concept RowView = requires(const R& r, std::string_view name) {
    { r.column_index(name) } -> std::convertible_to<int>;
    { r.template get<std::int64_t>(0) } -> std::same_as<std::int64_t>;
};

/// Reads the current row of `row` into a T (see the file comment).
template <class T, RowView R>
T scan(const R& row) {
    if constexpr (describe::Described<T>) {
        T out{};
        std::apply(
            [&](const auto&... m) {
                (([&] {
                     int col = row.column_index(m.name);
                     if (col < 0) {
                         throw RowError(std::string("keel: db: the result has no column \"") + m.name +
                                        "\" for the member of the same name");
                     }
                     using M = typename std::decay_t<decltype(m)>::type;
                     out.*(m.ptr) = row.template get<M>(col);
                 }()),
                 ...);
            },
            describe::members<T>());
        return out;
    } else {
        return row.template get<T>(0);
    }
}

}  // namespace keel::db
