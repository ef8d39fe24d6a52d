#pragma once
/// keel::db::postgres_placeholders: a statement written once with SQLite's numbered
/// placeholders (?1, ?2, ...) for both back-ends, given PostgreSQL's ($1, $2, ...). The rest of
/// the text is kept as is, so it must say nothing the two dialects say differently.
///
///     auto row = co_await conn.query_one<Row>(db::postgres_placeholders("SELECT a FROM t WHERE id = ?1"), id);

#include <string>
#include <string_view>

namespace keel::db {

inline std::string postgres_placeholders(std::string_view statement) {
    std::string out(statement);
    for (std::size_t i = 0; i + 1 < out.size(); ++i) {
        if (out[i] == '?' && out[i + 1] >= '0' && out[i + 1] <= '9') {
            out[i] = '$';
        }
    }
    return out;
}

}  // namespace keel::db
