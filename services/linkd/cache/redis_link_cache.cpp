#include "cache/redis_link_cache.hpp"

#include <keel/core/sleep.hpp>

#include <charconv>

namespace linkd {
namespace {

// A change replaces the slug's entry by a mark unique to it ("!" + a counter), then announces
// the slug, in one round trip. An instance that hears the announcement and reloads finds no
// answer and reads the database.
constexpr const char* kInvalidate =
    "redis.call('SET', KEYS[1], '!' .. redis.call('INCR', KEYS[2]), 'PX', ARGV[3]) "
    "return redis.call('PUBLISH', ARGV[1], ARGV[2])";

// Stores an answer only if the entry is still what the lookup saw (absent: "", or the same
// change mark): a lookup that read the database before a change must not store its old answer
// after the change.
constexpr const char* kPut =
    "if (redis.call('GET', KEYS[1]) or '') ~= ARGV[3] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";

std::string millis(keel::Duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

template <class T>
bool parse(std::string_view& in, T& out) {
    std::size_t space = in.find(' ');
    if (space == std::string_view::npos) {
        return false;
    }
    auto [end, ec] = std::from_chars(in.data(), in.data() + space, out);
    if (ec != std::errc() || end != in.data() + space) {
        return false;
    }
    in.remove_prefix(space + 1);
    return true;
}

}  // namespace

RedisLinkCache::RedisLinkCache(keel::redis::Client& redis, keel::Loop& loop, Listeners listeners,
                               RedisLinkCacheOptions options)
    : redis_(redis),
      loop_(loop),
      options_(std::move(options)),
      listeners_(std::move(listeners)),
      subscriber_(
          loop, redis.options(), {options_.channel},
          [this](std::string_view, std::string_view message) {
              received_.fetch_add(1, std::memory_order_relaxed);
              if (message == kKeysMessage) {
                  listeners_.forget_keys();
              } else {
                  listeners_.forget_link(message);
              }
          },
          [this] {
              resyncs_.fetch_add(1, std::memory_order_relaxed);
              listeners_.forget_all_links();
              listeners_.forget_keys();
          }) {
    loop_.post([this] {
        retry_timer_ = loop_.run_every(options_.retry_every, [this] {
            if (!retrying_ && stats().invalidations_pending > 0) {
                retrying_ = true;
                keel::spawn(announce_pending(), [this](std::exception_ptr) { retrying_ = false; });
            }
        });
    });
}

keel::Task<void> RedisLinkCache::close() {
    if (retry_timer_) {
        loop_.cancel(retry_timer_);
        retry_timer_ = 0;
    }
    while (retrying_) {
        co_await keel::sleep_for(std::chrono::milliseconds(5));
    }
}

// Values: "-" for a slug that does not exist; "1 <id> <permanent 0|1> <expires_at|-> <url>"
// for a link (a valid URL has no spaces, so it can come last unquoted).
std::string RedisLinkCache::encode(const CachedAnswer& a) {
    if (!a) {
        return "-";
    }
    std::string v = "1 " + std::to_string(a->id) + (a->permanent ? " 1 " : " 0 ");
    v += a->expires_at ? std::to_string(*a->expires_at) : "-";
    v += ' ';
    v += a->url;
    return v;
}

std::optional<CachedAnswer> RedisLinkCache::decode(std::string_view v) {
    if (v == "-") {
        return CachedAnswer{};
    }
    if (v.substr(0, 2) != "1 ") {
        return std::nullopt;
    }
    v.remove_prefix(2);
    CachedLink link;
    int permanent = 0;
    if (!parse(v, link.id) || !parse(v, permanent) || permanent < 0 || permanent > 1) {
        return std::nullopt;
    }
    link.permanent = permanent == 1;
    if (v.substr(0, 2) == "- ") {
        v.remove_prefix(2);
    } else {
        std::int64_t expires = 0;
        if (!parse(v, expires)) {
            return std::nullopt;
        }
        link.expires_at = expires;
    }
    if (v.empty()) {
        return std::nullopt;
    }
    link.url = std::string(v);
    return std::make_shared<const CachedLink>(std::move(link));
}

keel::Task<SharedLookup> RedisLinkCache::get(std::string slug) {
    std::vector<std::string> args{"GET", options_.prefix + slug};
    auto r = co_await redis_.command(std::move(args));
    if (!r || r->is_error()) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        co_return SharedLookup{};  // the database answers, and nothing is stored
    }
    SharedLookup out;
    if (r->type == keel::redis::Reply::Type::string) {
        out.answer = decode(r->str);
        out.version = std::move(r->str);  // a change mark (or a value we cannot read)
    } else {
        out.version = "";  // absent
    }
    (out.answer ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
    co_return out;
}

keel::Task<void> RedisLinkCache::put(std::string slug, CachedAnswer answer, keel::Duration ttl, std::string version) {
    if (std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count() <= 0) {
        co_return;
    }
    std::vector<std::string> args{"EVAL", kPut, "1", options_.prefix + slug, encode(answer), millis(ttl), version};
    auto r = co_await redis_.command(std::move(args));
    if (!r || r->is_error()) {
        errors_.fetch_add(1, std::memory_order_relaxed);
    }
}

keel::Task<bool> RedisLinkCache::announce(std::string slug) {
    std::vector<std::string> args{"EVAL",
                                  kInvalidate,
                                  "2",
                                  options_.prefix + slug,
                                  options_.prefix + "*changes",
                                  options_.channel,
                                  slug,
                                  millis(options_.change_mark)};
    auto r = co_await redis_.command(std::move(args));
    bool ok = r && !r->is_error();
    if (ok) {
        sent_.fetch_add(1, std::memory_order_relaxed);
    }
    co_return ok;
}

keel::Task<void> RedisLinkCache::invalidate(std::string slug) {
    if (co_await announce(slug)) {
        co_return;
    }
    // Until it goes through, other instances (and Redis) may keep the old answer.
    std::lock_guard lock(mu_);
    if (pending_.size() < options_.max_pending) {
        pending_.insert(std::move(slug));
    } else {
        dropped_.fetch_add(1, std::memory_order_relaxed);  // kept until cache.ttl, at worst
    }
}

keel::Task<void> RedisLinkCache::announce_pending() {
    for (;;) {
        std::string slug;
        {
            std::lock_guard lock(mu_);
            if (pending_.empty()) {
                break;
            }
            slug = *pending_.begin();
        }
        if (!co_await announce(slug)) {
            break;  // still down: the next tick tries again
        }
        std::lock_guard lock(mu_);
        pending_.erase(slug);
    }
}

RedisLinkCacheStats RedisLinkCache::stats() const {
    std::uint64_t pending = 0;
    {
        std::lock_guard lock(mu_);
        pending = pending_.size();
    }
    return {hits_.load(),     misses_.load(),  errors_.load(),          sent_.load(), pending, dropped_.load(),
            received_.load(), resyncs_.load(), subscriber_.subscribed()};
}

}  // namespace linkd
