#include <keel/core/detail/frame_pool.hpp>

#include <array>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define KEEL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEL_ASAN 1
#endif
#endif
#ifdef KEEL_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace keel::detail {
namespace {

constexpr std::size_t kGranule = 64;
constexpr std::size_t kClasses = 32;  // frames up to 2 KiB are pooled
constexpr std::size_t kMaxCachedPerClass = 256;

struct FreeBlock {
    FreeBlock* next;
};

struct FreeLists {
    std::array<FreeBlock*, kClasses> head{};
    std::array<std::size_t, kClasses> count{};
    ~FreeLists() {
        for (auto& h : head) {
            while (h) {
                FreeBlock* b = h;
#ifdef KEEL_ASAN
                ASAN_UNPOISON_MEMORY_REGION(b, sizeof(FreeBlock));
#endif
                h = b->next;
                std::free(b);
            }
        }
    }
};

thread_local FreeLists t_lists;

std::size_t class_of(std::size_t size) {
    return (size + kGranule - 1) / kGranule - 1;
}

}  // namespace

void* frame_allocate(std::size_t size) {
    std::size_t c = class_of(size);
    if (c < kClasses) {
        if (FreeBlock* b = t_lists.head[c]) {
#ifdef KEEL_ASAN
            // Poisoned while cached so a use-after-free of a frame is still caught.
            ASAN_UNPOISON_MEMORY_REGION(b, (c + 1) * kGranule);
#endif
            t_lists.head[c] = b->next;
            --t_lists.count[c];
            return b;
        }
        size = (c + 1) * kGranule;
    }
    void* p = std::malloc(size);
    if (!p) {
        throw std::bad_alloc();
    }
    return p;
}

void frame_deallocate(void* p, std::size_t size) noexcept {
    std::size_t c = class_of(size);
    if (c < kClasses && t_lists.count[c] < kMaxCachedPerClass) {
        auto* b = static_cast<FreeBlock*>(p);
        b->next = t_lists.head[c];
        t_lists.head[c] = b;
        ++t_lists.count[c];
#ifdef KEEL_ASAN
        ASAN_POISON_MEMORY_REGION(b, (c + 1) * kGranule);
        // keep the link readable for the pool itself
        ASAN_UNPOISON_MEMORY_REGION(b, sizeof(FreeBlock));
#endif
        return;
    }
    std::free(p);
}

}  // namespace keel::detail
