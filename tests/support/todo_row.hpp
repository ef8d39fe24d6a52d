#pragma once
// The row type both drivers' query tests read (the same struct for SQLite and PostgreSQL).

#include <keel/core/describe.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace keel::test {

struct Todo {
    std::int64_t id = 0;
    std::string title = {};
    bool done = false;
    std::optional<std::int64_t> due = {};
};
KEEL_DESCRIBE(Todo, id, title, done, due)

}  // namespace keel::test
