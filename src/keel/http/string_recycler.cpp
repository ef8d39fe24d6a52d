#include <keel/http/detail/string_recycler.hpp>

#include <memory>
#include <vector>

namespace keel::http::detail {
namespace {

constexpr std::size_t kMaxCached = 256;
constexpr std::size_t kMaxCapacity = 64 * 1024;

struct Cache {
    std::vector<std::string> strings;
    Cache() { strings.reserve(kMaxCached); }
};

// The hot path reads a plain pointer: a thread_local with a destructor would be reached through
// an initialization check on every call. The owner below frees the strings at thread exit.
thread_local Cache* t_cache = nullptr;
thread_local bool t_exited = false;

struct Owner {
    std::unique_ptr<Cache> cache = std::make_unique<Cache>();
    ~Owner() {
        t_cache = nullptr;
        t_exited = true;  // responses destroyed later in this thread's exit are not cached
    }
};

Cache* cache() {
    if (t_cache == nullptr && !t_exited) [[unlikely]] {
        thread_local Owner owner;
        t_cache = owner.cache.get();
    }
    return t_cache;
}

}  // namespace

std::string acquire_string() {
    Cache* c = cache();
    if (c == nullptr || c->strings.empty()) {
        return {};
    }
    std::string s = std::move(c->strings.back());
    c->strings.pop_back();
    return s;
}

void release_string(std::string&& s) noexcept {
    // Keep only buffers worth keeping: ones that allocated, and not huge ones.
    if (s.capacity() <= 15 || s.capacity() > kMaxCapacity) {
        return;
    }
    Cache* c = cache();
    if (c != nullptr && c->strings.size() < kMaxCached) {
        s.clear();
        c->strings.push_back(std::move(s));
    }
}

}  // namespace keel::http::detail
