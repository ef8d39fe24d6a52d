#pragma once
/// keel::idempotency::Store: where the Idempotency-Key middleware (middleware.hpp) keeps, per
/// key, the fingerprint of the request that first used it and the response that request got:
/// in the service's own database, SQLite (sqlite_store.hpp) or PostgreSQL (postgres_store.hpp),
/// so every instance behind a load balancer sees the same keys. Every call is a coroutine
/// awaited on a loop thread.

#include <keel/core/result.hpp>
#include <keel/core/task.hpp>

#include <cstdint>
#include <string>

namespace keel::idempotency {

/// Milliseconds since the Unix epoch (one clock for every process).
using UnixMillis = std::int64_t;

/// What a key is scoped to: the caller that sent it, the key, the method and the path. The same
/// key from another principal, or on another route, is another key.
struct Scope {
    std::string principal;
    std::string key;
    std::string method;
    std::string path;
};

/// A response as it is stored and replayed.
struct StoredResponse {
    int status = 0;
    std::string headers = {};  ///< "Name: value\r\n" lines (Response::header_block)
    std::string body = {};
};

/// What begin() found for a scope.
struct Begun {
    enum class Outcome {
        run,          ///< the key is the caller's: run the request, then complete() or release()
        replay,       ///< a request with this key and fingerprint was answered: `response`
        in_progress,  ///< a request with this key is running now (its lock has not run out)
        mismatch,     ///< the key was used for a request with another fingerprint
    };
    Outcome outcome = Outcome::run;
    StoredResponse response = {};
};

class Store {
  public:
    virtual ~Store() = default;

    /// Creates the table the database lacks (keel's migrations, in their own table
    /// `keel_idempotency_migrations`, apart from the service's).
    virtual Task<Result<int>> migrate() = 0;
    /// Takes `scope` for `owner` until `locked_until` when it is free: unknown, expired
    /// (expires_at passed), or locked by a run for the same fingerprint whose lock ran out (its
    /// process died). Otherwise says what holds it. One statement: two callers never both run.
    virtual Task<Result<Begun>> begin(Scope scope, std::string fingerprint, std::string owner, UnixMillis now,
                                      UnixMillis locked_until, UnixMillis expires_at) = 0;
    /// Stores the response of `owner`'s run; false when `owner` no longer held the key.
    virtual Task<Result<bool>> complete(Scope scope, std::string owner, StoredResponse response) = 0;
    /// Frees the key `owner` holds without a response: the next request with it runs.
    virtual Task<Result<void>> release(Scope scope, std::string owner) = 0;
    /// Deletes the keys that expired before `now`; how many.
    virtual Task<Result<int>> prune(UnixMillis now) = 0;
};

}  // namespace keel::idempotency
