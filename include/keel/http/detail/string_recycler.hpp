#pragma once
/// Per-thread cache of std::string buffers (with their capacity) so that response headers and
/// bodies stop allocating once a loop is warm. Bounded: at most 256 strings of at most 64 KiB.

#include <string>

namespace keel::http::detail {

std::string acquire_string();
void release_string(std::string&& s) noexcept;

}  // namespace keel::http::detail
