#pragma once
// One throw-away PostgreSQL server for a whole test binary: started by the first test that
// asks for it, stopped when the binary's tests are over (a GoogleTest environment), and a fresh
// database per test named after it.
//
//     std::string url = keel::test::database_for_this_test("j_");   // postgresql://…/j_<test name>

#include <support/postgres_server.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <string>

namespace keel::test {

namespace detail {
inline std::unique_ptr<PostgresServer>& shared_postgres_slot() {
    static std::unique_ptr<PostgresServer> server;
    return server;
}
class SharedPostgresEnvironment : public ::testing::Environment {
  public:
    void TearDown() override { shared_postgres_slot().reset(); }
};
inline ::testing::Environment* const kSharedPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new SharedPostgresEnvironment);
}  // namespace detail

inline PostgresServer& shared_postgres() {
    auto& server = detail::shared_postgres_slot();
    if (!server) {
        server = std::make_unique<PostgresServer>();
    }
    return *server;
}

/// A new database on the shared server for the running test: `prefix` + its name, lowercased.
inline std::string database_for_this_test(const std::string& prefix) {
    std::string name = prefix + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto& ch : name) {
        ch = std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '_';
    }
    return shared_postgres().create_database(name);
}

}  // namespace keel::test
