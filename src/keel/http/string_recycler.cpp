#include <keel/http/detail/string_recycler.hpp>

#include <vector>

namespace keel::http::detail {
namespace {

constexpr std::size_t kMaxCached = 256;
constexpr std::size_t kMaxCapacity = 64 * 1024;

struct Cache {
    std::vector<std::string> strings;
    Cache() { strings.reserve(kMaxCached); }
};
thread_local Cache t_cache;

}  // namespace

std::string acquire_string() {
    auto& v = t_cache.strings;
    if (v.empty()) {
        return {};
    }
    std::string s = std::move(v.back());
    v.pop_back();
    return s;
}

void release_string(std::string&& s) noexcept {
    // Keep only buffers worth keeping: ones that allocated, and not huge ones.
    if (s.capacity() <= 15 || s.capacity() > kMaxCapacity) {
        return;
    }
    auto& v = t_cache.strings;
    if (v.size() < kMaxCached) {
        s.clear();
        v.push_back(std::move(s));
    }
}

}  // namespace keel::http::detail
