#pragma once
/// keel::cache::LruCache<V>: an in-memory cache with string keys, a per-entry time to live and
/// a bound on the number of entries (least recently used evicted first). Sharded: each shard
/// has its own lock and LRU list, so loop threads rarely contend.
///
///     LruCache<std::shared_ptr<const Link>> links({.max_entries = 100'000});
///     if (auto hit = links.get(slug)) return *hit;
///     links.put(slug, loaded, 60s);
///
/// Store a cheap-to-copy V (a shared_ptr to an immutable value): get() returns a copy made
/// under the shard's lock. Negative caching is the caller's choice of V (e.g. a null pointer
/// with a shorter TTL).

#include <keel/core/loop.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace keel::cache {

struct CacheOptions {
    std::size_t max_entries = 100'000;
    std::size_t shards = 16;  ///< rounded up to a power of two
};

struct CacheStats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;       ///< absent or expired
    std::uint64_t evictions = 0;    ///< pushed out by the size bound
    std::uint64_t invalidations = 0;
    std::size_t entries = 0;
};

template <class V>
class LruCache {
public:
    explicit LruCache(CacheOptions options = {}) {
        std::size_t n = 1;
        while (n < options.shards) {
            n <<= 1;
        }
        shards_ = std::vector<Shard>(n);
        per_shard_ = std::max<std::size_t>(1, (options.max_entries + n - 1) / n);
    }

    std::optional<V> get(std::string_view key, TimePoint now = Clock::now()) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mu);
        auto it = s.index.find(key);
        if (it == s.index.end()) {
            ++s.misses;
            return std::nullopt;
        }
        auto node = it->second;
        if (node->expires <= now) {
            s.index.erase(it);
            s.lru.erase(node);
            ++s.misses;
            return std::nullopt;
        }
        s.lru.splice(s.lru.begin(), s.lru, node);  // most recently used to the front
        ++s.hits;
        return node->value;
    }

    void put(std::string_view key, V value, Duration ttl, TimePoint now = Clock::now()) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mu);
        if (auto it = s.index.find(key); it != s.index.end()) {
            it->second->value = std::move(value);
            it->second->expires = now + ttl;
            s.lru.splice(s.lru.begin(), s.lru, it->second);
            return;
        }
        s.lru.push_front(Entry{std::string(key), std::move(value), now + ttl});
        s.index.emplace(std::string_view(s.lru.front().key), s.lru.begin());
        if (s.lru.size() > per_shard_) {
            s.index.erase(std::string_view(s.lru.back().key));
            s.lru.pop_back();
            ++s.evictions;
        }
    }

    /// Removes the key; true when it was present.
    bool erase(std::string_view key) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mu);
        auto it = s.index.find(key);
        if (it == s.index.end()) {
            return false;
        }
        auto node = it->second;
        s.index.erase(it);
        s.lru.erase(node);
        ++s.invalidations;
        return true;
    }

    void clear() {
        for (Shard& s : shards_) {
            std::lock_guard lock(s.mu);
            s.index.clear();
            s.lru.clear();
        }
    }

    CacheStats stats() const {
        CacheStats out;
        for (const Shard& s : shards_) {
            std::lock_guard lock(s.mu);
            out.hits += s.hits;
            out.misses += s.misses;
            out.evictions += s.evictions;
            out.invalidations += s.invalidations;
            out.entries += s.lru.size();
        }
        return out;
    }

private:
    struct Entry {
        std::string key;
        V value;
        TimePoint expires;
    };
    struct Shard {
        mutable std::mutex mu;
        std::list<Entry> lru;
        std::unordered_map<std::string_view, typename std::list<Entry>::iterator> index;
        std::uint64_t hits = 0, misses = 0, evictions = 0, invalidations = 0;
    };

    Shard& shard(std::string_view key) {
        std::size_t h = std::hash<std::string_view>{}(key);
        return shards_[(h ^ (h >> 29)) & (shards_.size() - 1)];
    }

    std::vector<Shard> shards_;
    std::size_t per_shard_ = 1;
};

}  // namespace keel::cache
