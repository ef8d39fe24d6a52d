#pragma once
/// keel::idempotency::PostgresStore: the keys in the service's PostgreSQL database, shared by
/// every instance on it (begin is one INSERT … ON CONFLICT DO UPDATE … WHERE: of two instances
/// given the same key at once, one runs and the other answers 409).
///
///     idempotency::PostgresStore keys(db);  // postgres::Database
///     co_await keys.migrate();

#include <keel/idempotency/store.hpp>
#include <keel/postgres/postgres.hpp>

namespace keel::idempotency {

class PostgresStore final : public Store {
  public:
    explicit PostgresStore(postgres::Database& db) : db_(db) {}

    Task<Result<int>> migrate() override;
    Task<Result<Begun>> begin(Scope scope, std::string fingerprint, std::string owner, UnixMillis now,
                              UnixMillis locked_until, UnixMillis expires_at) override;
    Task<Result<bool>> complete(Scope scope, std::string owner, StoredResponse response) override;
    Task<Result<void>> release(Scope scope, std::string owner) override;
    Task<Result<int>> prune(UnixMillis now) override;

  private:
    postgres::Database& db_;
};

}  // namespace keel::idempotency
