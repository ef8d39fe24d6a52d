#pragma once
/// keel::db::GroupCommit<In, Out>: many concurrent writers, one transaction. Each caller
/// submits one item and awaits its own result; items that arrive while a batch is being
/// written wait and go together in the next batch. At most one batch is in flight, so under
/// load a durable commit (one fsync) is shared by every request of the batch, and an idle
/// system adds no delay (the first item is written at once, alone).
///
///     GroupCommit<Link, Result<Link>> inserts(
///         [&](std::vector<Link>& batch) -> Task<std::vector<Result<Link>>> { return repo.insert_all(batch); },
///         {.max_batch = 128});
///     auto saved = co_await inserts.submit(link);
///
/// `write` gets the batch and returns one Out per item, in order. It runs on the loop of the
/// caller that found no batch in flight. Callers resume on their own loops. Thread-safe.
///
/// Cancellation: an item submitted with a stop token (Out must be constructible from a
/// keel::Error, e.g. Result<T>) is withdrawn when the token fires while it still waits for a
/// batch, and answers errors::kCancelled: nothing of it was written. Once its batch is being
/// written it waits for the outcome, which may be a commit.

#include <keel/core/assert.hpp>
#include <keel/core/error.hpp>
#include <keel/core/loop.hpp>
#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>

#include <algorithm>
#include <coroutine>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel::db {

struct GroupCommitOptions {
    std::size_t max_batch = 128;
};

struct GroupCommitStats {
    std::uint64_t items = 0;
    std::uint64_t batches = 0;
};

template <class In, class Out>
class GroupCommit {
  public:
    using WriteFn = std::function<Task<std::vector<Out>>(std::vector<In>&)>;

    explicit GroupCommit(WriteFn write, GroupCommitOptions options = {})
        : write_(std::move(write)), options_(options) {}

    /// Queues `item` and suspends until the batch holding it is written.
    Task<Out> submit(In item) { return submit_impl(std::move(item), StopToken{}); }

    /// The same, withdrawn with errors::kCancelled if `stop` fires before its batch starts.
    Task<Out> submit(In item, StopToken stop) requires std::is_constructible_v<Out, Error> {
        return submit_impl(std::move(item), stop);
    }

    GroupCommitStats stats() const {
        std::lock_guard lock(mu_);
        return stats_;
    }

  private:
    struct Pending {
        In in = {};
        std::optional<Out> out = {};
        std::exception_ptr error = {};
        bool cancelled = false;
        Loop* loop = nullptr;
        std::coroutine_handle<> h = {};
        std::optional<StopCallback> on_stop = {};
    };

    Task<Out> submit_impl(In item, StopToken stop) {
        Pending p{std::move(item)};
        co_await Enqueue{this, &p, stop};
        p.on_stop.reset();
        if (p.cancelled) {
            if constexpr (std::is_constructible_v<Out, Error>) {
                co_return Out(keel::errors::kCancelled);
            }
        }
        if (p.error) {
            std::rethrow_exception(p.error);
        }
        co_return std::move(*p.out);
    }

    struct Enqueue {
        GroupCommit* self = {};
        Pending* p = {};
        StopToken stop = {};
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
            p->h = h;
            p->loop = Loop::current();
            KEEL_INVARIANT(p->loop != nullptr);
            bool lead = false;
            {
                std::lock_guard lock(self->mu_);
                self->queue_.push_back(p);
                if (!self->writing_) {
                    self->writing_ = true;
                    lead = true;
                }
            }
            if (stop.stop_possible()) {
                // Stop tokens fire on the caller's loop; the resumption is deferred so it never
                // runs inside request_stop().
                p->on_stop.emplace(stop, [self = self, p = p] { self->withdraw(p); });
            }
            if (lead) {
                // The writer runs detached on this loop; this caller waits like the others.
                keel::spawn(self->drain(), [](std::exception_ptr) {});
            }
        }
        void await_resume() const noexcept {}
    };

    // On the item's loop, when its stop token fires: still queued → out of the queue, resumed.
    void withdraw(Pending* p) {
        {
            std::lock_guard lock(mu_);
            auto it = std::find(queue_.begin(), queue_.end(), p);
            if (it == queue_.end()) {
                return;  // in a batch already: it gets the batch's outcome
            }
            queue_.erase(it);
            p->cancelled = true;
        }
        p->loop->defer([h = p->h] { h.resume(); });
    }

    Task<void> drain() {
        for (;;) {
            std::vector<Pending*> batch;
            {
                std::lock_guard lock(mu_);
                while (!queue_.empty() && batch.size() < options_.max_batch) {
                    batch.push_back(queue_.front());
                    queue_.pop_front();
                }
                if (batch.empty()) {
                    writing_ = false;
                    co_return;
                }
                ++stats_.batches;
                stats_.items += batch.size();
            }
            std::vector<In> items;
            items.reserve(batch.size());
            for (Pending* p : batch) {
                items.push_back(std::move(p->in));
            }
            std::exception_ptr error;
            std::vector<Out> outs;
            try {
                outs = co_await write_(items);
                if (outs.size() != batch.size()) {
                    throw std::logic_error("keel: GroupCommit: write returned the wrong number of results");
                }
            } catch (...) {
                error = std::current_exception();
            }
            for (std::size_t i = 0; i < batch.size(); ++i) {
                Pending* p = batch[i];
                if (error) {
                    p->error = error;
                } else {
                    p->out.emplace(std::move(outs[i]));
                }
                p->loop->post([h = p->h] { h.resume(); });
            }
        }
    }

    WriteFn write_;
    GroupCommitOptions options_;
    mutable std::mutex mu_;
    std::deque<Pending*> queue_;
    bool writing_ = false;
    GroupCommitStats stats_;
};

}  // namespace keel::db
