#pragma once
// The admin surface's paths, written once: App::add_admin_routes serves them, and with
// admin.on_main the main port's dispatcher sends exactly these to the admin router.

#include <string_view>

namespace keel::detail {

inline constexpr std::string_view kMetricsPath = "/metrics";
inline constexpr std::string_view kLivezPath = "/livez";
inline constexpr std::string_view kReadyzPath = "/readyz";
inline constexpr std::string_view kVarsPath = "/debug/vars";
/// Everything under it is the admin's: /debug/vars and observe::pprof_routes (/debug/pprof/...).
inline constexpr std::string_view kDebugPrefix = "/debug/";

inline bool is_admin_path(std::string_view path) noexcept {
    return path == kMetricsPath || path == kLivezPath || path == kReadyzPath || path.starts_with(kDebugPrefix);
}

}  // namespace keel::detail
