#pragma once
/// keel::LoopThread: a Loop running on a thread of its own, for work that belongs to no
/// request: start-up steps (migrations), periodic jobs (flushing counters), shutdown steps.
/// Other threads hand it coroutines with block_on (wait for the result) or spawn (don't).
///
///     keel::LoopThread background(&app.workers());
///     auto applied = background.block_on([&] { return db.migrate(migrations); });  // a Task's result
///     background.spawn([&] { return flush_forever(); });                            // a Task<void>

#include <keel/core/loop.hpp>
#include <keel/core/task.hpp>

#include <exception>
#include <future>
#include <optional>
#include <thread>

namespace keel {

class LoopThread {
  public:
    /// `workers` is the pool keel::offload uses from this loop (may be null).
    explicit LoopThread(WorkerPool* workers = nullptr) : loop_(workers) {
        thread_ = std::thread([this] { loop_.run(); });
    }
    /// Stops the loop (posted callbacks run first, timers are dropped) and joins.
    ~LoopThread() { stop(); }
    LoopThread(const LoopThread&) = delete;
    LoopThread& operator=(const LoopThread&) = delete;

    Loop& loop() noexcept { return loop_; }

    void stop() {
        if (thread_.joinable()) {
            loop_.stop();
            thread_.join();
        }
    }

    /// Runs `make()` (a callable returning Task<T>) on the loop and waits for its result;
    /// an exception thrown by the task is rethrown here. Never call from the loop's own thread.
    template <class MakeTask>
    auto block_on(MakeTask make) {
        using T = typename decltype(make())::value_type;
        return block_on_impl<T>(std::move(make));
    }

    /// Starts a Task<void> on the loop without waiting; an exception from it terminates
    /// (background jobs must handle their own errors).
    template <class MakeTask>
    void spawn(MakeTask make) {
        loop_.post([make = std::move(make)]() mutable {
            keel::spawn(make(), [](std::exception_ptr e) {
                if (e) {
                    std::rethrow_exception(e);
                }
            });
        });
    }

  private:
    template <class T, class MakeTask>
    T block_on_impl(MakeTask make) {
        std::promise<T> done;
        auto result = done.get_future();
        loop_.post([&done, &make] {
            if constexpr (std::is_void_v<T>) {
                keel::spawn(make(), [&done](std::exception_ptr e) { e ? done.set_exception(e) : done.set_value(); });
            } else {
                keel::spawn(make(), [&done](std::optional<T> v, std::exception_ptr e) {
                    e ? done.set_exception(e) : done.set_value(std::move(*v));
                });
            }
        });
        return result.get();
    }

    Loop loop_;
    std::thread thread_;
};

}  // namespace keel
