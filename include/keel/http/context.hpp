#pragma once
/// keel::http::Context: typed request-scoped values, set by middleware and read by handlers
/// (the authenticated principal, the request id…). Keyed by type, not by string: get<T>() is a
/// scan of at most a few slots comparing one pointer, with no std::any and no allocation for
/// values up to 48 bytes. Cleared between requests.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace keel::http {

class Context {
  public:
    Context() = default;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    ~Context() { clear(); }

    /// Stores (or replaces) the value of type T.
    template <class T>
    T& set(T value) {
        using V = std::decay_t<T>;
        Slot* slot = find(key<V>());
        if (slot) {
            *static_cast<V*>(slot->ptr) = std::move(value);
            return *static_cast<V*>(slot->ptr);
        }
        slot = acquire();
        slot->key = key<V>();
        if constexpr (sizeof(V) <= kInline && alignof(V) <= alignof(std::max_align_t)) {
            slot->ptr = new (slot->storage) V(std::move(value));
            slot->destroy = [](void* p, bool) { static_cast<V*>(p)->~V(); };
        } else {
            slot->ptr = new V(std::move(value));
            slot->destroy = [](void* p, bool) { delete static_cast<V*>(p); };
        }
        return *static_cast<V*>(slot->ptr);
    }

    /// The value of type T, or nullptr when none was set for this request.
    template <class T>
    T* get() noexcept {
        Slot* slot = find(key<T>());
        return slot ? static_cast<T*>(slot->ptr) : nullptr;
    }
    template <class T>
    const T* get() const noexcept {
        return const_cast<Context*>(this)->get<T>();
    }

    void clear() noexcept {
        for (std::size_t i = 0; i < used_; ++i) {
            slots_[i].destroy(slots_[i].ptr, false);
        }
        used_ = 0;
    }

  private:
    static constexpr std::size_t kInline = 48;
    static constexpr std::size_t kSlots = 8;

    struct Slot {
        const void* key = {};
        void* ptr = {};
        void (*destroy)(void*, bool);
        alignas(std::max_align_t) unsigned char storage[kInline];
    };

    template <class T>
    static const void* key() noexcept {
        static const char tag = 0;
        return &tag;
    }

    Slot* find(const void* k) noexcept {
        for (std::size_t i = 0; i < used_; ++i) {
            if (slots_[i].key == k) {
                return &slots_[i];
            }
        }
        return nullptr;
    }

    Slot* acquire();

    Slot slots_[kSlots];
    std::size_t used_ = 0;
};

}  // namespace keel::http
