#pragma once
// The second level of the redirect cache: shared by every linkd instance (Redis), behind each
// instance's memory. The service only sees this interface; cache/redis_link_cache.* is the
// implementation, and tests can use a map.

#include "domain/model.hpp"

#include <keel/core/loop.hpp>
#include <keel/core/task.hpp>

#include <memory>
#include <optional>
#include <string>

namespace linkd {

/// What the redirect cache holds for a slug (no entry = unknown; a cached "missing" is a
/// negative entry, so unknown slugs do not reach the database on every request).
struct CachedLink {
    std::int64_t id = 0;
    std::string url = {};
    bool permanent = false;
    std::optional<std::int64_t> expires_at = {};
};

/// A cached answer: a link, or nullptr for "no such slug".
using CachedAnswer = std::shared_ptr<const CachedLink>;

/// What the shared cache said about a slug.
struct SharedLookup {
    std::optional<CachedAnswer> answer = {};  ///< nullopt: it has none (the database answers)
    /// What the slug's entry was when it had no answer (absent, or the mark of the last change),
    /// to hand to put(); nullopt when the cache could not be read (then nothing is stored).
    std::optional<std::string> version = {};
};

class SharedLinkCache {
  public:
    virtual ~SharedLinkCache() = default;

    virtual keel::Task<SharedLookup> get(std::string slug) = 0;

    /// Shares what the database said about `slug` for `ttl`, unless the slug changed since
    /// get() saw `version`: a lookup that read the database before a change must not store
    /// its old answer after the change was announced.
    virtual keel::Task<void> put(std::string slug, CachedAnswer answer, keel::Duration ttl, std::string version) = 0;

    /// After `slug` changed in the database: forgets it in the shared cache and in every
    /// instance's memory (this one's included).
    virtual keel::Task<void> invalidate(std::string slug) = 0;
};

}  // namespace linkd
