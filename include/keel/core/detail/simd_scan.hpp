#pragma once
// Not public API (detail/: shared by the http and json modules). Finding the first byte that falls in
// a set of byte ranges, 16 bytes at a time with SSE4.2's PCMPESTRI, for the HTTP parser (end of a header value /
// target) and the JSON escaper (first byte needing an escape). The caller finishes the last <16 bytes with its own
// scalar loop.

#include <nmmintrin.h>

namespace keel::detail {

/// True when the CPU has SSE4.2 (checked once).
inline bool have_sse42() noexcept {
    static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("sse4.2"));
    return yes;
}

/// `ranges` holds `ranges_len` bytes as (lo, hi) pairs, padded to 16 readable bytes. Returns the
/// first p in [p, end - 15) whose 16-byte chunk contains a byte in a range, at that byte;
/// otherwise the first position with fewer than 16 bytes left.
__attribute__((target("sse4.2"))) inline const char* find_in_ranges_sse42(const char* p, const char* end,
                                                                          const char* ranges, int ranges_len) {
    __m128i r = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ranges));
    while (end - p >= 16) {
        __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        int idx = _mm_cmpestri(r, ranges_len, chunk, 16, _SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_LEAST_SIGNIFICANT);
        if (idx != 16) {
            return p + idx;
        }
        p += 16;
    }
    return p;
}

}  // namespace keel::detail
