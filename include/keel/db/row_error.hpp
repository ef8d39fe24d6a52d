#pragma once
/// keel::db::RowError: thrown by typed row access (sqlite::Stmt::get, pg::Row::get) when a
/// column's value does not fit the requested type. It is a programming error (the query and
/// the code disagree), so it is an exception that ends the request with a 500 rather than a
/// Result every caller must check. Also the traits both drivers' get<T> share.

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace keel::db {

class RowError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

namespace detail {
/// Typed row access reads std::optional<T> as "NULL or a T".
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

}  // namespace keel::db
