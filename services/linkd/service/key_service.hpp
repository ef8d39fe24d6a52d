#pragma once
// API keys: "lk_" + 40 random base62 characters. The first 8 random characters are the
// lookup prefix (stored in clear, unique); the whole key is stored only as its SHA-256 hash.
// Verified keys are cached for auth.cache_ttl so that a request costs no database read;
// revoking drops the cache at once, here and (through on_revoked, with Redis) on every
// instance; without Redis, other instances follow within the TTL.

#include "domain/model.hpp"
#include "repository/repository.hpp"
#include "service/clock.hpp"
#include "service/errors.hpp"

#include <keel/cache/lru_cache.hpp>

#include <functional>

#include <memory>
#include <optional>
#include <string>

namespace linkd {

struct CreatedKey {
    ApiKey key = {};
    std::string secret = {};  ///< the key itself, shown once
};

struct KeyServiceOptions {
    keel::Duration cache_ttl = std::chrono::seconds(30);
    WallClock now = system_now;
};

class KeyService {
  public:
    static constexpr std::size_t kPrefixLength = 8;
    static constexpr std::size_t kRandomLength = 40;

    KeyService(Repository& repo, KeyServiceOptions options);

    /// The caller behind an `Authorization` header value ("Bearer <key>"):
    /// Fault::unauthenticated when it is missing, malformed, unknown or revoked.
    Task<ServiceResult<Principal>> authenticate(std::optional<std::string_view> authorization);

    /// Admin only. `name`: 1-100 bytes.
    Task<ServiceResult<CreatedKey>> create(const Principal& caller, std::string name, bool admin);
    /// Admin only. Fault::not_found when there is no such active key.
    Task<ServiceResult<void>> revoke(const Principal& caller, std::int64_t id);

    /// Start-up: with a configured admin key, makes sure it exists as an admin key; without
    /// one, creates an admin key when the database has none and returns it (to print once).
    Task<ServiceResult<std::optional<CreatedKey>>> ensure_admin(std::string configured_key);

    /// True when `key` has the shape of an API key.
    static bool well_formed(std::string_view key);

    /// Before serving: told after a key was revoked (to tell the other instances).
    void set_on_revoked(std::function<Task<void>()> fn) { on_revoked_ = std::move(fn); }
    /// Forget every verified key (another instance revoked one).
    void forget_verified() { verified_.clear(); }

  private:
    Task<ServiceResult<CreatedKey>> insert(std::string name, bool admin, std::optional<std::string> secret);

    Repository& repo_;
    KeyServiceOptions options_;
    keel::cache::LruCache<std::shared_ptr<const Principal>> verified_;
    std::function<Task<void>()> on_revoked_;
};

}  // namespace linkd
