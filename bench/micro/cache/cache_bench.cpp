// LruCache::get on the hot path: one thread, and every hardware thread at once on the same
// keys (the redirect cache under load); visit(), which reads in place; and a control where each
// thread has its own cache. Target: a get under 100 ns.
#include <keel/cache/lru_cache.hpp>

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

namespace {

struct Value {
    std::string url;
};

keel::cache::LruCache<std::shared_ptr<const Value>>& cache() {
    static auto* c = [] {
        auto* c = new keel::cache::LruCache<std::shared_ptr<const Value>>({.max_entries = 100'000});
        for (int i = 0; i < 10'000; ++i) {
            c->put("slug" + std::to_string(i),
                   std::make_shared<const Value>(Value{"https://example.com/" + std::to_string(i)}),
                   std::chrono::hours(1));
        }
        return c;
    }();
    return *c;
}

/// 1024 keys spread over the cache; each thread starts at another place.
std::vector<std::string> keys_for(int thread) {
    std::vector<std::string> keys;
    for (int i = 0; i < 1024; ++i) {
        keys.push_back("slug" + std::to_string((i * 7919 + thread * 13) % 10'000));
    }
    return keys;
}

void BM_CacheGet(benchmark::State& state) {
    auto& c = cache();
    std::vector<std::string> keys = keys_for(state.thread_index());
    std::size_t i = 0;
    for (auto _ : state) {
        auto v = c.get(keys[i++ & 1023]);
        benchmark::DoNotOptimize(v);
    }
}
BENCHMARK(BM_CacheGet)->Threads(1)->Threads(2)->UseRealTime();

void BM_CacheGetOneHotKey(benchmark::State& state) {
    auto& c = cache();
    for (auto _ : state) {
        auto v = c.get("slug42");  // every thread on one shard: the worst case
        benchmark::DoNotOptimize(v);
    }
}
BENCHMARK(BM_CacheGetOneHotKey)->Threads(1)->Threads(2)->UseRealTime();

// visit(): read in place, no reference count written.
void BM_CacheVisit(benchmark::State& state) {
    auto& c = cache();
    std::vector<std::string> keys = keys_for(state.thread_index());
    std::size_t i = 0;
    for (auto _ : state) {
        std::size_t n = 0;
        c.visit(keys[i++ & 1023], [&](const std::shared_ptr<const Value>& v) { n = v->url.size(); });
        benchmark::DoNotOptimize(n);
    }
}
BENCHMARK(BM_CacheVisit)->Threads(1)->Threads(2)->UseRealTime();

void BM_CacheVisitOneHotKey(benchmark::State& state) {
    auto& c = cache();
    for (auto _ : state) {
        std::size_t n = 0;
        c.visit("slug42", [&](const std::shared_ptr<const Value>& v) { n = v->url.size(); });
        benchmark::DoNotOptimize(n);
    }
}
BENCHMARK(BM_CacheVisitOneHotKey)->Threads(1)->Threads(2)->UseRealTime();

// The control: each thread reads its own cache, so nothing is shared. What BM_CacheGet costs
// beyond this with 2 threads is contention; what this costs beyond 1 thread is the machine
// (cores sharing execution units or memory bandwidth).
void BM_CacheGetPrivate(benchmark::State& state) {
    keel::cache::LruCache<std::shared_ptr<const Value>> c({.max_entries = 100'000});
    for (int i = 0; i < 10'000; ++i) {
        c.put("slug" + std::to_string(i),
              std::make_shared<const Value>(Value{"https://example.com/" + std::to_string(i)}), std::chrono::hours(1));
    }
    std::vector<std::string> keys = keys_for(0);
    std::size_t i = 0;
    for (auto _ : state) {
        auto v = c.get(keys[i++ & 1023]);
        benchmark::DoNotOptimize(v);
    }
}
BENCHMARK(BM_CacheGetPrivate)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
