#pragma once
/// keel::db::RowError: thrown by typed row access when a column's value does not fit the
/// requested type. It is a programming error (the query and the code disagree), so it is an
/// exception that ends the request with a 500 rather than a Result every caller must check.

#include <stdexcept>
#include <string>

namespace keel::db {

class RowError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace keel::db
