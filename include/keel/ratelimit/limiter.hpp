#pragma once
/// keel::ratelimit::LocalLimiter: GCRA per key in this process's memory, sharded, with a bound
/// on the number of keys. When a shard is full, keys whose bucket has refilled are forgotten
/// first (forgetting them changes nothing); only then the least recently seen.
///
/// keel::ratelimit::Limiter is the interface the middleware uses; a Redis-backed limiter
/// implements it too, so limits can hold across instances.

#include <keel/core/task.hpp>
#include <keel/ratelimit/gcra.hpp>

#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace keel::ratelimit {

class Limiter {
  public:
    virtual ~Limiter() = default;
    /// Counts one request for `key` when allowed. Ready at once for local limiters.
    virtual Task<Decision> check(std::string key) = 0;
    virtual const Limit& limit() const noexcept = 0;
};

struct LocalOptions {
    std::size_t max_keys = 100'000;
    std::size_t shards = 16;
};

class LocalLimiter final : public Limiter {
  public:
    LocalLimiter(Limit limit, LocalOptions options = {});

    /// The synchronous check (what check() returns).
    Decision allow(std::string_view key, TimePoint now = Clock::now());
    Task<Decision> check(std::string key) override;
    const Limit& limit() const noexcept override { return limit_; }
    std::size_t keys() const;

  private:
    struct Entry {
        std::string key = {};
        TimePoint tat = {};
    };
    struct Shard {
        mutable std::mutex mu = {};
        std::list<Entry> lru = {};  // front = most recently seen
        std::unordered_map<std::string_view, std::list<Entry>::iterator> index = {};
    };
    Shard& shard(std::string_view key);
    void make_room(Shard& s, TimePoint now);

    Limit limit_;
    std::size_t per_shard_;
    std::vector<Shard> shards_;
};

}  // namespace keel::ratelimit
