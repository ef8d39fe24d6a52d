#pragma once
/// keel::PerLoop<T>: one T per event loop, made on first use from that loop and destroyed on
/// it (its file descriptors are watched there). What a client keeps per loop so that a loop
/// thread never shares a connection: the Redis client's connection, the HTTP client's libcurl
/// handle.
///
///     PerLoop<Connection> connections{[&](Loop& loop) { return std::make_unique<Connection>(loop); }};
///     Connection& c = connections.get();   // on a loop thread
///
/// get() on the hot path reads a one-entry thread-local cache: no lock, nothing shared written.
/// Declare T's owner's destructor out of line when T is incomplete in the header.

#include <keel/core/assert.hpp>
#include <keel/core/destroy_on_loop.hpp>
#include <keel/core/loop.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace keel {

template <class T>
class PerLoop {
  public:
    using Make = std::function<std::unique_ptr<T>(Loop&)>;

    explicit PerLoop(Make make) : make_(std::move(make)) {}
    ~PerLoop() {
        std::lock_guard lock(mu_);
        for (auto& [loop, object] : objects_) {
            destroy_on_loop(*loop, std::move(object));
        }
    }
    PerLoop(const PerLoop&) = delete;
    PerLoop& operator=(const PerLoop&) = delete;

    /// The calling loop's T (made now if it has none). Loop threads only.
    T& get() {
        thread_local Cached cached;
        Loop* loop = Loop::current();
        if (cached.owner == id_ && cached.loop == loop) {
            return *cached.object;
        }
        KEEL_INVARIANT(loop != nullptr);
        std::lock_guard lock(mu_);
        auto& object = objects_[loop];
        if (!object) {
            object = make_(*loop);
        }
        cached = {id_, loop, object.get()};
        return *object;
    }

  private:
    struct Cached {
        std::uint64_t owner = 0;  // ids are never reused, so a dead PerLoop never matches
        Loop* loop = nullptr;
        T* object = nullptr;
    };
    static std::uint64_t next_id() {
        static std::atomic<std::uint64_t> next{1};
        return next.fetch_add(1, std::memory_order_relaxed);
    }

    const std::uint64_t id_ = next_id();
    Make make_;
    std::mutex mu_;
    std::map<Loop*, std::unique_ptr<T>> objects_;
};

}  // namespace keel
