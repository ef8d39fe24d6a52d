#pragma once
/// keel::cache::cache_aside: read through a cache with the load shared by concurrent misses.
///
///     auto link = co_await cache_aside(cache, flight, slug, policy,
///                                      [&]() -> Task<Result<Entry>> { co_return co_await repo.find(slug); });
///
///   fresh hit                    → the cached value, no load
///   stale (within SWR)           → the cached value now, one background reload refreshes it
///   miss                         → one load for all concurrent callers (singleflight), cached
///   load fails, stale-if-error   → the stale value instead of the error
///   load fails, nothing to serve → the error
///
/// Values the policy calls negative (`is_negative`, e.g. a null pointer for "not found") are
/// cached for `negative_ttl` instead of `entry.ttl`.

#include <keel/cache/lru_cache.hpp>
#include <keel/cache/singleflight.hpp>
#include <keel/core/result.hpp>
#include <keel/core/task.hpp>

#include <functional>
#include <string>

namespace keel::cache {

template <class V>
struct AsidePolicy {
    EntryPolicy entry = {};
    Duration negative_ttl{};
    std::function<bool(const V&)> is_negative = {};     ///< may be empty: nothing is negative
    std::function<std::size_t(const V&)> size_of = {};  ///< may be empty: sizeof(V)
};

namespace detail {
template <class V, class Load>
Task<Result<V>> load_into(LruCache<V>& cache, AsidePolicy<V> policy, std::string key, Load load) {
    Result<V> r = co_await load();
    cache.note_load(r.has_value());
    if (r) {
        EntryPolicy p = policy.entry;
        if (policy.is_negative && policy.is_negative(*r)) {
            p = EntryPolicy{policy.negative_ttl, {}, {}};
        }
        cache.put(key, *r, p, policy.size_of ? policy.size_of(*r) : sizeof(V));
    }
    co_return r;
}
}  // namespace detail

template <class V, class Load>
Task<Result<V>> cache_aside(LruCache<V>& cache, SingleFlight<Result<V>>& flight, std::string key, AsidePolicy<V> policy,
                            Load load) {
    Lookup<V> seen = cache.lookup(key);
    if (seen.freshness == Freshness::fresh) {
        co_return std::move(*seen.value);
    }
    if (seen.freshness == Freshness::stale) {
        // Serve it now; refresh once in the background (joined by any concurrent miss).
        keel::spawn(
            [](LruCache<V>& cache, SingleFlight<Result<V>>& flight, std::string key, AsidePolicy<V> policy,
               Load load) -> Task<void> {
                (void)co_await flight.run(key, [&] { return detail::load_into(cache, policy, key, load); });
            }(cache, flight, key, policy, load),
            [](std::exception_ptr) {});
        co_return std::move(*seen.value);
    }
    Result<V> loaded = co_await flight.run(key, [&] { return detail::load_into(cache, policy, key, load); });
    if (!loaded && seen.freshness == Freshness::stale_if_error) {
        co_return std::move(*seen.value);  // the source is failing: a stale answer beats none
    }
    co_return loaded;
}

}  // namespace keel::cache
