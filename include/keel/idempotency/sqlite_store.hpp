#pragma once
/// keel::idempotency::SqliteStore: the keys in the service's SQLite database (begin, complete
/// and release go through its single writer).
///
///     idempotency::SqliteStore keys(db);  // sqlite::Database
///     co_await keys.migrate();

#include <keel/idempotency/store.hpp>
#include <keel/sqlite/sqlite.hpp>

namespace keel::idempotency {

class SqliteStore final : public Store {
  public:
    explicit SqliteStore(sqlite::Database& db) : db_(db) {}

    Task<Result<int>> migrate() override;
    Task<Result<Begun>> begin(Scope scope, std::string fingerprint, std::string owner, UnixMillis now,
                              UnixMillis locked_until, UnixMillis expires_at) override;
    Task<Result<bool>> complete(Scope scope, std::string owner, StoredResponse response) override;
    Task<Result<void>> release(Scope scope, std::string owner) override;
    Task<Result<int>> prune(UnixMillis now) override;

  private:
    sqlite::Database& db_;
};

}  // namespace keel::idempotency
