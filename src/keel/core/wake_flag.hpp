#pragma once
// The protocol between Loop::post (any thread) and the loop's drain of its post queue: a flag
// says "a wake-up (eventfd write) is already on its way", so only the first post after a
// drain pays for the syscall. Kept apart so a test can run the protocol against the memory
// model on this machine's CPU.
//
// Every write to the flag is a read-modify-write. The drain clearing it with a plain store
// lost wake-ups (issue 15: 32 link creations stuck for 37 s): the store may become visible
// only after the queue reads that follow it (store-load reordering, allowed by C++ for
// release/acquire and done by x86), so a post landing in between saw the old `true`, skipped
// the eventfd write, and its callback waited for whatever was posted next. With RMWs only, a
// post that sees `true` synchronizes with the clear that follows it, so the drain sees its node.

#include <atomic>

namespace keel::detail {

/// Producer, after publishing its work: true when the caller must wake the loop.
inline bool raise_wake(std::atomic<bool>& flag) noexcept {
    return !flag.exchange(true, std::memory_order_acq_rel);
}

/// Consumer, before reading the queue: later posts wake the loop again.
inline void clear_wake(std::atomic<bool>& flag) noexcept {
    (void)flag.exchange(false, std::memory_order_acq_rel);
}

}  // namespace keel::detail
