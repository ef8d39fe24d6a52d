#pragma once
/// KEEL_ASSERT / KEEL_INVARIANT: broken invariants, not expected failures (those return
/// keel::Result). KEEL_ASSERT is checked in debug builds only; KEEL_INVARIANT always.

#include <cstdio>
#include <cstdlib>

namespace keel::detail {
[[noreturn]] inline void assertion_failed(const char* expr, const char* file, int line) noexcept {
    std::fprintf(stderr, "keel: invariant violated: %s at %s:%d\n", expr, file, line);
    std::abort();
}
}  // namespace keel::detail

#define KEEL_INVARIANT(expr) \
    ((expr) ? static_cast<void>(0) : ::keel::detail::assertion_failed(#expr, __FILE__, __LINE__))

#ifdef NDEBUG
#define KEEL_ASSERT(expr) static_cast<void>(0)
#else
#define KEEL_ASSERT(expr) KEEL_INVARIANT(expr)
#endif
