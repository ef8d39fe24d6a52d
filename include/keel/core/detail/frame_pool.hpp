#pragma once
/// Recycling allocator for coroutine frames: per-thread free lists in 64-byte size classes,
/// so a warm server creates handler coroutines without touching malloc. A frame freed on
/// another thread simply joins that thread's list.

#include <cstddef>

namespace keel::detail {

void* frame_allocate(std::size_t size);
void frame_deallocate(void* p, std::size_t size) noexcept;

}  // namespace keel::detail
