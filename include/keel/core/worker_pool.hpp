#pragma once
/// keel::WorkerPool: threads for blocking or CPU-heavy work (SQLite calls, password hashing,
/// big JSON), fed through a bounded queue. A full queue is refused at once (try_submit returns
/// false) so callers can answer 503 + Retry-After instead of queueing without bound.
/// Use keel::offload (offload.hpp) from coroutines rather than calling try_submit directly.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace keel {

struct WorkerPoolOptions {
    std::size_t threads = 4;            ///< >= 1
    std::size_t queue_capacity = 1024;  ///< >= 1: jobs waiting, not counting those running
};

class WorkerPool {
  public:
    /// Throws std::invalid_argument ("keel: ...") for zero threads or capacity.
    explicit WorkerPool(WorkerPoolOptions options = {});
    /// Runs the jobs already queued, then joins the threads.
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// Thread-safe. False when the queue is full or the pool is stopping.
    bool try_submit(std::function<void()> job);

    /// Stops accepting work, finishes queued jobs and joins. Idempotent.
    void stop();

    std::size_t threads() const noexcept { return threads_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t queue_depth() const;
    std::uint64_t rejected() const;
    std::uint64_t completed() const;

  private:
    void work();

    const std::size_t capacity_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::uint64_t rejected_ = 0;
    std::uint64_t completed_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace keel
