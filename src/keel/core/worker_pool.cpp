#include <keel/core/worker_pool.hpp>

#include <pthread.h>

#include <stdexcept>

namespace keel {

WorkerPool::WorkerPool(WorkerPoolOptions options) : capacity_(options.queue_capacity) {
    const std::size_t threads = options.threads;
    if (threads == 0 || options.queue_capacity == 0) {
        throw std::invalid_argument("keel: WorkerPool needs at least one thread and a queue capacity of one");
    }
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        threads_.emplace_back([this] { work(); });
        pthread_setname_np(threads_.back().native_handle(), "keel-worker");
    }
}

WorkerPool::~WorkerPool() {
    stop();
}

bool WorkerPool::try_submit(std::function<void()> job) {
    {
        std::lock_guard lock(mu_);
        if (stopping_ || queue_.size() >= capacity_) {
            ++rejected_;
            return false;
        }
        queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
}

void WorkerPool::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && threads_.empty()) {
            return;
        }
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    threads_.clear();
}

void WorkerPool::work() {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return;  // stopping and drained
            }
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        job();
        std::lock_guard lock(mu_);
        ++completed_;
    }
}

std::size_t WorkerPool::queue_depth() const {
    std::lock_guard lock(mu_);
    return queue_.size();
}

std::uint64_t WorkerPool::rejected() const {
    std::lock_guard lock(mu_);
    return rejected_;
}

std::uint64_t WorkerPool::completed() const {
    std::lock_guard lock(mu_);
    return completed_;
}

}  // namespace keel
