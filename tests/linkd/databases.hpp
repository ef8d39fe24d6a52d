#pragma once
// The databases linkd's tests run against: a fresh SQLite file, or a fresh database on one
// PostgreSQL server started for the whole test binary (tests/support/postgres_server.hpp).
// Tests are parameterized over Backend so the same test runs on both.

#include <support/postgres_server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

namespace linkd::test {

enum class Backend { sqlite, postgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
    return info.param == Backend::sqlite ? "SQLite" : "PostgreSQL";
}

inline keel::test::PostgresServer& postgres_server() {
    static std::unique_ptr<keel::test::PostgresServer> server = std::make_unique<keel::test::PostgresServer>();
    return *server;
}

/// A fresh, empty database of `backend`; removed (SQLite) when the object dies.
class TestDatabase {
  public:
    explicit TestDatabase(Backend backend) : backend_(backend) {
        static std::atomic<int> counter{0};
        int n = ++counter;
        if (backend == Backend::sqlite) {
            char tmpl[] = "/tmp/linkd-test-XXXXXX";
            dir_ = ::mkdtemp(tmpl);
            url_ = "sqlite://" + dir_ + "/linkd.db";
        } else {
            name_ = "linkd_" + std::to_string(::getpid()) + "_" + std::to_string(n);
            url_ = postgres_server().create_database(name_);
        }
    }
    ~TestDatabase() {
        if (!dir_.empty()) {
            std::filesystem::remove_all(dir_);
        }
    }
    const std::string& url() const noexcept { return url_; }
    Backend backend() const noexcept { return backend_; }
    /// Runs SQL directly (sqlite3 CLI is not needed: PostgreSQL only).
    std::string psql(const std::string& sql) const { return postgres_server().psql(name_, sql); }

  private:
    Backend backend_;
    std::string dir_;
    std::string name_;
    std::string url_;
};

}  // namespace linkd::test
