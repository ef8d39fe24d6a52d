#pragma once
/// keel::cache::LruCache<V>: an in-memory cache with string keys, a per-entry time to live,
/// stale windows, and bounds on entries and bytes. Eviction is CLOCK, an approximation of
/// least-recently-used in which a read only marks its entry (the list is left alone). Sharded:
/// each shard has its own list and a SpreadLock, whose readers on different threads write
/// different cache lines, so gets from every loop thread do not slow each other down.
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
/// shard's read lock.

#include <keel/core/loop.hpp>
#include <keel/core/spread_lock.hpp>

#include <algorithm>
#include <array>
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
#include <utility>
#include <vector>

namespace keel::cache {

struct CacheOptions {
    std::size_t max_entries = 100'000;
    std::size_t max_bytes = 0;  ///< 0: no byte bound. Counted as key + the size given to put()
    std::size_t shards = 16;    ///< rounded up to a power of two
    /// What the cache calls now: tests pass a clock they move by hand, so TTLs expire on
    /// cue instead of after a sleep.
    TimePoint (*clock)() = [] { return Clock::now(); };
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
    std::optional<V> value = {};  ///< set unless miss
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
        clock_ = options.clock != nullptr ? options.clock : CacheOptions{}.clock;
    }

    /// The cache's time (CacheOptions::clock); the overloads without `now` use it.
    TimePoint now() const { return clock_(); }

    /// The value when fresh (nullopt when absent or expired).
    std::optional<V> get(std::string_view key) { return get(key, now()); }
    std::optional<V> get(std::string_view key, TimePoint now) {
        Shard& s = shard(key);
        {
            SharedSlot read(s.lock);
            auto it = s.index.find(key);
            const bool present = it != s.index.end();
            if (present && now < it->second->fresh_until) {
                it->second->mark();
                count(read.slot()).hits.fetch_add(1, std::memory_order_relaxed);
                return it->second->value;
            }
            if (!present || now < it->second->error_until) {
                count(read.slot()).misses.fetch_add(1, std::memory_order_relaxed);
                return std::nullopt;
            }
        }
        remove_dead(s, key, now);  // past every window: gone
        count(SpreadLock::slot()).misses.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
    }

    /// Calls fn(const V&) under the read lock when the key is fresh, without copying the
    /// value: for a shared_ptr V, no reference count is written, so every thread can read one
    /// hot entry without moving its cache line between cores. True when fn was called; keep fn
    /// short (it holds the thread's read slot).
    template <class Fn>
    bool visit(std::string_view key, Fn&& fn) {
        return visit(key, std::forward<Fn>(fn), now());
    }
    template <class Fn>
    bool visit(std::string_view key, Fn&& fn, TimePoint now) {
        Shard& s = shard(key);
        SharedSlot read(s.lock);
        auto it = s.index.find(key);
        if (it == s.index.end() || now >= it->second->fresh_until) {
            count(read.slot()).misses.fetch_add(1, std::memory_order_relaxed);
            return false;  // (a dead entry is left to get(), put() or eviction)
        }
        it->second->mark();
        count(read.slot()).hits.fetch_add(1, std::memory_order_relaxed);
        fn(static_cast<const V&>(it->second->value));
        return true;
    }

    /// The value with how fresh it is (see the file comment).
    Lookup<V> lookup(std::string_view key) { return lookup(key, now()); }
    Lookup<V> lookup(std::string_view key, TimePoint now) {
        Shard& s = shard(key);
        {
            SharedSlot read(s.lock);
            auto it = s.index.find(key);
            if (it == s.index.end()) {
                count(read.slot()).misses.fetch_add(1, std::memory_order_relaxed);
                return {};
            }
            Entry& e = *it->second;
            if (now < e.error_until) {
                Lookup<V> out;
                out.freshness = now < e.fresh_until   ? Freshness::fresh
                                : now < e.stale_until ? Freshness::stale
                                                      : Freshness::stale_if_error;
                e.mark();
                auto& c = count(read.slot());
                (out.freshness == Freshness::stale_if_error ? c.misses : c.hits)
                    .fetch_add(1, std::memory_order_relaxed);
                out.value = e.value;
                return out;
            }
        }
        remove_dead(s, key, now);
        count(SpreadLock::slot()).misses.fetch_add(1, std::memory_order_relaxed);
        return {};
    }

    void put(std::string_view key, V value, Duration ttl) { put(key, std::move(value), ttl, now()); }
    void put(std::string_view key, V value, Duration ttl, TimePoint now) {
        put(key, std::move(value), EntryPolicy{ttl, {}, {}}, sizeof(V), now);
    }

    /// `bytes`: what the value costs against max_bytes (the key is added).
    void put(std::string_view key, V value, const EntryPolicy& p, std::size_t bytes) {
        put(key, std::move(value), p, bytes, now());
    }
    void put(std::string_view key, V value, const EntryPolicy& p, std::size_t bytes, TimePoint now) {
        Shard& s = shard(key);
        std::lock_guard lock(s.lock);
        if (auto it = s.index.find(key); it != s.index.end()) {
            remove(s, it);
        }
        TimePoint fresh = now + p.ttl;
        TimePoint stale = fresh + p.stale_while_revalidate;
        s.lru.emplace_front(std::string(key), std::move(value), fresh, stale, std::max(stale, fresh + p.stale_if_error),
                            key.size() + bytes);
        s.index.emplace(std::string_view(s.lru.front().key), s.lru.begin());
        s.bytes += s.lru.front().bytes;
        while (s.lru.size() > 1 &&
               (s.lru.size() > per_shard_entries_ || (per_shard_bytes_ != 0 && s.bytes > per_shard_bytes_))) {
            // CLOCK ("second chance"): hits only mark an entry, so a read never rewrites the
            // list; eviction moves marked entries to the front and takes the first unmarked.
            auto victim = std::prev(s.lru.end());
            if (victim->referenced.load(std::memory_order_relaxed) && victim != s.lru.begin()) {
                victim->referenced.store(false, std::memory_order_relaxed);
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
        std::lock_guard lock(s.lock);
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
            std::lock_guard lock(s.lock);
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

    CacheStats stats() const {  // (not on a hot path: takes every lock)
        CacheStats out;
        for (const Counts& c : counts_) {
            out.hits += c.hits.load(std::memory_order_relaxed);
            out.misses += c.misses.load(std::memory_order_relaxed);
        }
        for (const Shard& s : shards_) {
            std::lock_guard lock(s.lock);
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
        Entry(std::string k, V v, TimePoint fresh, TimePoint stale, TimePoint error, std::size_t b)
            : key(std::move(k)),
              value(std::move(v)),
              fresh_until(fresh),
              stale_until(stale),
              error_until(error),
              bytes(b) {}
        std::string key = {};
        V value;
        TimePoint fresh_until = {};
        TimePoint stale_until = {};
        TimePoint error_until = {};
        std::size_t bytes = {};
        /// Read since it was last considered for eviction. Readers share the entry, so it is
        /// atomic, and written only when clear: a hot entry's line is not bounced by reads.
        std::atomic<bool> referenced{false};
        void mark() noexcept {
            if (!referenced.load(std::memory_order_relaxed)) {
                referenced.store(true, std::memory_order_relaxed);
            }
        }
    };
    using Index = std::unordered_map<std::string_view, typename std::list<Entry>::iterator>;
    struct Shard {
        mutable SpreadLock lock = {};  // readers: get/lookup; writers: everything else
        std::list<Entry> lru = {};
        Index index = {};
        std::size_t bytes = 0;
        std::uint64_t evictions = 0, invalidations = 0;
    };
    /// Hits and misses per SpreadLock slot: a thread counts on its own cache line.
    struct alignas(64) Counts {
        std::atomic<std::uint64_t> hits{0}, misses{0};
    };
    Counts& count(std::size_t slot) noexcept { return counts_[slot]; }

    /// Removes `key` if it is still past every window (another thread may have put it again).
    void remove_dead(Shard& s, std::string_view key, TimePoint now) {
        std::lock_guard lock(s.lock);
        auto it = s.index.find(key);
        if (it != s.index.end() && now >= it->second->error_until) {
            remove(s, it);
        }
    }

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
    TimePoint (*clock_)() = nullptr;
    std::array<Counts, SpreadLock::kSlots> counts_;
    std::size_t per_shard_entries_ = 1;
    std::size_t per_shard_bytes_ = 0;
    std::atomic<std::uint64_t> loads_{0};
    std::atomic<std::uint64_t> load_errors_{0};
};

}  // namespace keel::cache
