#pragma once
// The shared redirect cache in Redis: one key per slug (prefix + slug, expiring with the
// entry), and one pub/sub channel on which every instance announces the slugs it changed, so
// that all of them drop those slugs from memory. The same channel carries "*keys" when an API
// key was revoked, so that every instance forgets the keys it verified. An announcement that
// fails (Redis down) is kept and retried until it goes through, so that no instance keeps a
// changed slug or a revoked key.

#include "service/shared_cache.hpp"

#include <keel/redis/client.hpp>
#include <keel/redis/subscriber.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <set>

namespace linkd {

struct RedisLinkCacheOptions {
    std::string prefix = "linkd:link:";
    std::string channel = "linkd:invalidate";
    keel::Duration retry_every = std::chrono::milliseconds(250);  ///< failed announcements
    std::size_t max_pending = 10'000;                             ///< failed announcements kept for retry, at most
    /// How long the mark a change leaves on its slug lives: a lookup that read the database
    /// before the change and stores later than this could still store its old answer.
    keel::Duration change_mark = std::chrono::minutes(1);
};

struct RedisLinkCacheStats {
    std::uint64_t hits = 0, misses = 0;
    std::uint64_t errors = 0;                  ///< reads and writes that failed (Redis down)
    std::uint64_t invalidations_sent = 0;      ///< slugs this instance announced
    std::uint64_t invalidations_pending = 0;   ///< ... not announced yet (Redis down), retried
    std::uint64_t invalidations_dropped = 0;   ///< ... given up (more pending than max_pending)
    std::uint64_t invalidations_received = 0;  ///< from every instance, this one included
    std::uint64_t resyncs = 0;                 ///< (re)subscriptions, each forgetting all of memory
    bool subscribed = false;
};

class RedisLinkCache final : public SharedLinkCache {
  public:
    /// What an instance forgets when told; called on the subscriber's loop.
    struct Listeners {
        std::function<void(std::string_view slug)> forget_link = {};
        std::function<void()> forget_all_links = {};
        std::function<void()> forget_keys = {};
    };

    /// Announcements arrive on `loop`: forget_link(slug) for each changed slug, forget_keys()
    /// after a revocation, and all of forget_* after every (re)subscription (what was announced
    /// while disconnected is lost). Failed announcements are retried from `loop` too.
    RedisLinkCache(keel::redis::Client& redis, keel::Loop& loop, Listeners listeners,
                   RedisLinkCacheOptions options = {});

    /// After an API key was revoked: every instance forgets the keys it verified.
    keel::Task<void> key_revoked() { return invalidate(std::string(kKeysMessage)); }
    static constexpr std::string_view kKeysMessage = "*keys";  // never a slug

    /// Stops retrying (waiting for a retry in flight). Await on `loop` before destruction.
    keel::Task<void> close();

    keel::Task<SharedLookup> get(std::string slug) override;
    keel::Task<void> put(std::string slug, CachedAnswer answer, keel::Duration ttl, std::string version) override;
    keel::Task<void> invalidate(std::string slug) override;

    RedisLinkCacheStats stats() const;

    /// The value stored for an answer, and back (nullopt: not a value we wrote).
    static std::string encode(const CachedAnswer& answer);
    static std::optional<CachedAnswer> decode(std::string_view value);

  private:
    keel::Task<bool> announce(std::string slug);
    keel::Task<void> announce_pending();  // on loop_

    keel::redis::Client& redis_;
    keel::Loop& loop_;
    RedisLinkCacheOptions options_;
    std::atomic<std::uint64_t> hits_{0}, misses_{0}, errors_{0}, sent_{0}, dropped_{0}, received_{0}, resyncs_{0};
    mutable std::mutex mu_;
    std::set<std::string> pending_;  // guarded by mu_
    keel::TimerId retry_timer_ = 0;  // loop_ only
    bool retrying_ = false;          // loop_ only
    Listeners listeners_;
    keel::redis::Subscriber subscriber_;  // last: its callbacks use the members above
};

}  // namespace linkd
