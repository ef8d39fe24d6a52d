#pragma once
/// keel's version. The build reads it from this file (CMakeLists.txt), so the package's
/// version (find_package(keel 0.3), keel.pc) and the code's agree.

#define KEEL_VERSION_MAJOR 0
#define KEEL_VERSION_MINOR 3
#define KEEL_VERSION_PATCH 0

/// 10000 * major + 100 * minor + patch, for #if comparisons (KEEL_VERSION >= 200).
#define KEEL_VERSION (KEEL_VERSION_MAJOR * 10000 + KEEL_VERSION_MINOR * 100 + KEEL_VERSION_PATCH)

#define KEEL_VERSION_DETAIL_STR2(x) #x
#define KEEL_VERSION_DETAIL_STR(x) KEEL_VERSION_DETAIL_STR2(x)

namespace keel {

/// "0.3.0"
inline constexpr const char* kVersion = KEEL_VERSION_DETAIL_STR(KEEL_VERSION_MAJOR) "." KEEL_VERSION_DETAIL_STR(
    KEEL_VERSION_MINOR) "." KEEL_VERSION_DETAIL_STR(KEEL_VERSION_PATCH);

}  // namespace keel
