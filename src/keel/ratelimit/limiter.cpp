#include <keel/ratelimit/limiter.hpp>

#include <stdexcept>

namespace keel::ratelimit {

LocalLimiter::LocalLimiter(Limit limit, LocalOptions options) : limit_(limit) {
    if (!(limit.rate > 0) || limit.burst < 1) {
        throw std::invalid_argument("keel: ratelimit: rate must be > 0 and burst >= 1");
    }
    std::size_t n = 1;
    while (n < options.shards) {
        n <<= 1;
    }
    shards_ = std::vector<Shard>(n);
    per_shard_ = std::max<std::size_t>(1, (options.max_keys + n - 1) / n);
}

LocalLimiter::Shard& LocalLimiter::shard(std::string_view key) {
    std::size_t h = std::hash<std::string_view>{}(key);
    return shards_[(h ^ (h >> 29)) & (shards_.size() - 1)];
}

void LocalLimiter::make_room(Shard& s, TimePoint now) {
    // Refilled buckets first: from the least recently seen end, while they are refilled.
    while (!s.lru.empty() && s.lru.size() >= per_shard_ && s.lru.back().tat <= now) {
        s.index.erase(s.lru.back().key);
        s.lru.pop_back();
    }
    while (s.lru.size() >= per_shard_) {  // still full: the least recently seen goes
        s.index.erase(s.lru.back().key);
        s.lru.pop_back();
    }
}

Decision LocalLimiter::allow(std::string_view key, TimePoint now) {
    Shard& s = shard(key);
    std::lock_guard lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) {
        make_room(s, now);
        s.lru.push_front(Entry{std::string(key), TimePoint{}});
        it = s.index.emplace(std::string_view(s.lru.front().key), s.lru.begin()).first;
    } else {
        s.lru.splice(s.lru.begin(), s.lru, it->second);
    }
    return gcra(it->second->tat, now, limit_);
}

std::size_t LocalLimiter::keys() const {
    std::size_t n = 0;
    for (const Shard& s : shards_) {
        std::lock_guard lock(s.mu);
        n += s.lru.size();
    }
    return n;
}

Task<Decision> LocalLimiter::check(std::string key) {
    co_return allow(key);
}

}  // namespace keel::ratelimit
