#include <keel/http/request_id.hpp>

#include <chrono>
#include <cstdint>
#include <random>

namespace keel::http {
namespace {

// xoshiro256**, seeded per thread from random_device and the clock.
struct Rng {
    std::uint64_t s[4];
    Rng() {
        std::random_device rd;
        for (auto& x : s) {
            x = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        }
    }
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t next() {
        std::uint64_t result = rotl(s[1] * 5, 7) * 9;
        std::uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
    }
};

}  // namespace

void generate_request_id(char* out) noexcept {
    thread_local Rng rng;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int half = 0; half < 2; ++half) {
        std::uint64_t v = rng.next();
        for (int i = 0; i < 16; ++i) {
            out[half * 16 + i] = kHex[(v >> (i * 4)) & 0xF];
        }
    }
}

}  // namespace keel::http
