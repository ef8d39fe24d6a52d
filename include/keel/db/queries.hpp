#pragma once
/// keel::db::Queries<Database>: the calls every driver's Database offers, written once. A
/// driver's Database derives from it and provides `Scoped with(StopToken)`, whose Scoped has
/// query_one<T>, query_all<T> and execute; this adds the same three without a stop token, and
/// with(scope) for anything that has one (a Request):
///
///     auto todo = co_await db.with(req).query_one<Todo>(sql, id);   // given up with the request
///     auto all = co_await db.query_all<Todo>(sql);                  // never given up

#include <keel/core/result.hpp>
#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>
#include <keel/db/scan.hpp>

#include <concepts>
#include <string>
#include <utility>
#include <vector>

namespace keel::db {

template <class Database>
class Queries {
  public:
    /// The first row as a T, or errors::kNoRows (keel/db/scan.hpp).
    template <class T, class... A>
    Task<Result<T>> query_one(std::string sql, A... args) {
        return self().with(StopToken{}).template query_one<T>(std::move(sql), std::move(args)...);
    }
    /// Every row as a T.
    template <class T, class... A>
    Task<Result<std::vector<T>>> query_all(std::string sql, A... args) {
        return self().with(StopToken{}).template query_all<T>(std::move(sql), std::move(args)...);
    }
    /// A statement run to completion: rows affected (and SQLite's last insert id).
    template <class... A>
    Task<Result<Executed>> execute(std::string sql, A... args) {
        return self().with(StopToken{}).execute(std::move(sql), std::move(args)...);
    }
    /// The same calls with the stop token of `scope` (a Request, or anything with stop_token()).
    template <class Scope>
    requires requires(const Scope& s) {
        { s.stop_token() } -> std::convertible_to<StopToken>;
    }
    auto with(const Scope& scope) { return self().with(StopToken(scope.stop_token())); }

  private:
    Database& self() { return static_cast<Database&>(*this); }
};

}  // namespace keel::db
