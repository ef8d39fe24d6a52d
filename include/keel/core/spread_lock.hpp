#pragma once
/// keel::SpreadLock: a reader-writer lock whose readers on different threads touch different
/// cache lines. Each thread reads through its own slot (a mutex alone on its line); a writer
/// takes every slot, in order. A read-mostly structure read by every loop thread (a cache)
/// then scales across cores: an ordinary lock's word, written by each reader, moves from core
/// to core on every read. Writes cost kSlots lock operations instead of one.
///
///     std::size_t slot = SpreadLock::slot();
///     lock.lock_shared(slot);  // readers on different threads lock different slots
///     read(shared);
///     lock.unlock_shared(slot);
///     std::lock_guard write(lock);  // lock()/unlock(): exclusive

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>

namespace keel {

class SpreadLock {
  public:
    static constexpr std::size_t kSlots = 8;

    /// The calling thread's slot, fixed for its life. Threads beyond kSlots share slots, which
    /// is correct, only slower.
    static std::size_t slot() noexcept {
        static std::atomic<std::size_t> next{0};
        thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kSlots;
        return mine;
    }

    void lock_shared(std::size_t slot) { slots_[slot].mu.lock(); }
    void unlock_shared(std::size_t slot) { slots_[slot].mu.unlock(); }

    void lock() {
        for (Slot& s : slots_) {
            s.mu.lock();
        }
    }
    void unlock() {
        for (Slot& s : slots_) {
            s.mu.unlock();
        }
    }

  private:
    struct alignas(64) Slot {
        std::mutex mu = {};
    };
    std::array<Slot, kSlots> slots_;
};

/// Holds a SpreadLock's read side for a scope.
class SharedSlot {
  public:
    explicit SharedSlot(SpreadLock& lock) : lock_(lock), slot_(SpreadLock::slot()) { lock_.lock_shared(slot_); }
    ~SharedSlot() { lock_.unlock_shared(slot_); }
    SharedSlot(const SharedSlot&) = delete;
    SharedSlot& operator=(const SharedSlot&) = delete;
    std::size_t slot() const noexcept { return slot_; }

  private:
    SpreadLock& lock_;
    std::size_t slot_;
};

}  // namespace keel
