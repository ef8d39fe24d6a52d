#pragma once
/// keel::cache::LruCache<V>: an in-memory cache with string keys, a per-entry time to live,
/// stale windows, and bounds on entries and bytes. Eviction is CLOCK, an approximation of
/// least-recently-used in which a read only marks its entry (the list is left alone). Sharded:
/// each shard has its own lock and list, so loop threads rarely contend.
///
///     LruCache<std::shared_ptr<const Link>> links({.max_entries = 100'000, .max_bytes = 64 << 20});
///     if (auto hit = links.get(slug)) return *hit;                       // fresh only
///     links.put(slug, loaded, {.ttl = 60s, .stale_while_revalidate = 30s, .stale_if_error = 10min},
///               loaded->url.size());
///
/// An entry is fresh for `ttl`; then, for `stale_while_revalidate`, lookup() still returns it
/// marked stale (serve it and refresh in the background); then, up to `stale_if_error` after
/// expiry, only as a fallback when reloading fails. cache_aside() (cache_aside.hpp) does all of
/// that, with singleflight loads. Negative caching is the caller's choice of V (e.g. a null
/// pointer with a shorter TTL).
///
/// Store a cheap-to-copy V (a shared_ptr to an immutable value): reads copy it under the
/// shard's lock.

#include <keel/core/loop.hpp>

#include <algorithm>
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
    std::size_t max_bytes = 0;  ///< 0: no byte bound. Counted as key + the size given to put()
    std::size_t shards = 16;    ///< rounded up to a power of two
};

/// How long an entry may be served.
struct EntryPolicy {
    Duration ttl{};
    Duration stale_while_revalidate{};
    Duration stale_if_error{};
};

struct CacheStats {
    std::uint64_t hits = 0;           ///< fresh, or stale within stale-while-revalidate
    std::uint64_t misses = 0;         ///< absent, or too stale to serve without a reload
    std::uint64_t evictions = 0;      ///< pushed out by a size bound
    std::uint64_t invalidations = 0;  ///< erase() of a present key
    std::uint64_t loads = 0;          ///< cache_aside loads run
    std::uint64_t load_errors = 0;    ///< ... that failed
    std::size_t entries = 0;
    std::size_t bytes = 0;
};

enum class Freshness { miss, fresh, stale, stale_if_error };

template <class V>
struct Lookup {
    Freshness freshness = Freshness::miss;
    std::optional<V> value;  ///< set unless miss
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
        per_shard_entries_ = std::max<std::size_t>(1, (options.max_entries + n - 1) / n);
        per_shard_bytes_ = options.max_bytes == 0 ? 0 : std::max<std::size_t>(1, (options.max_bytes + n - 1) / n);
    }

    /// The value when fresh (nullopt when absent or expired).
    std::optional<V> get(std::string_view key, TimePoint now = Clock::now()) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mu);
        auto it = s.index.find(key);
        if (it != s.index.end()) {
            if (now < it->second->fresh_until) {
                if (!it->second->referenced) {
                    it->second->referenced = true;  // (no write when set: other cores keep the line)
                }
                ++s.hits;
                return it->second->value;
            }
            if (now >= it->second->error_until) {
                remove(s, it);  // past every window: gone
            }
        }
        ++s.misses;
        return std::nullopt;
    }

    /// The value with how fresh it is (see the file comment).
    Lookup<V> lookup(std::string_view key, TimePoint now = Clock::now()) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mu);
        auto it = s.index.find(key);
        if (it == s.index.end()) {
            ++s.misses;
            return {};
        }
        auto node = it->second;
        Lookup<V> out;
        if (now < node->fresh_until) {
            out.freshness = Freshness::fresh;
        } else if (now < node->stale_until) {
            out.freshness = Freshness::stale;
        } else if (now < node->error_until) {
            out.freshness = Freshness::stale_if_error;
        } else {
            remove(s, it);
            ++s.misses;
            return {};
        }
        node->referenced = true;
        out.freshness == Freshness::stale_if_error ? ++s.misses : ++s.hits;
        out.value = node->value;
        return out;
    }

    void put(std::string_view key, V value, Duration ttl, TimePoint now = Clock::now()) {
        put(key, std::move(value), EntryPolicy{ttl, {}, {}}, sizeof(V), now);
    }

    /// `bytes`: what the value costs against max_bytes (the key is added).
    void put(std::string_view key, V value, const EntryPolicy& p, std::size_t bytes, TimePoint now = Clock::now()) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mu);
        if (auto it = s.index.find(key); it != s.index.end()) {
            remove(s, it);
        }
        TimePoint fresh = now + p.ttl;
        TimePoint stale = fresh + p.stale_while_revalidate;
        s.lru.push_front(Entry{std::string(key), std::move(value), fresh, stale, std::max(stale, fresh + p.stale_if_error),
                               key.size() + bytes, false});
        s.index.emplace(std::string_view(s.lru.front().key), s.lru.begin());
        s.bytes += s.lru.front().bytes;
        while (s.lru.size() > 1 &&
               (s.lru.size() > per_shard_entries_ || (per_shard_bytes_ != 0 && s.bytes > per_shard_bytes_))) {
            // CLOCK ("second chance"): hits only mark an entry, so a read never rewrites the
            // list; eviction moves marked entries to the front and takes the first unmarked.
            auto victim = std::prev(s.lru.end());
            if (victim->referenced && victim != s.lru.begin()) {
                victim->referenced = false;
                s.lru.splice(s.lru.begin(), s.lru, victim);
                continue;
            }
            remove(s, s.index.find(std::string_view(victim->key)));
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
        remove(s, it);
        ++s.invalidations;
        return true;
    }

    void clear() {
        for (Shard& s : shards_) {
            std::lock_guard lock(s.mu);
            s.index.clear();
            s.lru.clear();
            s.bytes = 0;
        }
    }

    /// For cache_aside: count a load and whether it failed.
    void note_load(bool ok) noexcept {
        loads_.fetch_add(1, std::memory_order_relaxed);
        if (!ok) {
            load_errors_.fetch_add(1, std::memory_order_relaxed);
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
            out.bytes += s.bytes;
        }
        out.loads = loads_.load(std::memory_order_relaxed);
        out.load_errors = load_errors_.load(std::memory_order_relaxed);
        return out;
    }

private:
    struct Entry {
        std::string key;
        V value;
        TimePoint fresh_until;
        TimePoint stale_until;
        TimePoint error_until;
        std::size_t bytes;
        bool referenced;  ///< read since it was last considered for eviction
    };
    using Index = std::unordered_map<std::string_view, typename std::list<Entry>::iterator>;
    struct alignas(64) Shard {  // own cache lines: threads on different shards share nothing
        mutable std::mutex mu;
        std::list<Entry> lru;
        Index index;
        std::size_t bytes = 0;
        std::uint64_t hits = 0, misses = 0, evictions = 0, invalidations = 0;
    };

    static void remove(Shard& s, typename Index::iterator it) {
        auto node = it->second;
        s.bytes -= node->bytes;
        s.index.erase(it);
        s.lru.erase(node);
    }

    Shard& shard(std::string_view key) {
        std::size_t h = std::hash<std::string_view>{}(key);
        return shards_[(h ^ (h >> 29)) & (shards_.size() - 1)];
    }

    std::vector<Shard> shards_;
    std::size_t per_shard_entries_ = 1;
    std::size_t per_shard_bytes_ = 0;
    std::atomic<std::uint64_t> loads_{0};
    std::atomic<std::uint64_t> load_errors_{0};
};

}  // namespace keel::cache
