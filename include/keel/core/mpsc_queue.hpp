#pragma once
/// keel::MpscQueue: an intrusive, lock-free, unbounded multi-producer single-consumer queue
/// (Vyukov's design). Producers never block; the consumer may see a transient empty queue while
/// a push is half done, and must be woken again by the producer (Loop does this with eventfd).

#include <atomic>

namespace keel {

struct MpscNode {
    std::atomic<MpscNode*> mpsc_next{nullptr};
};

/// Node must derive from MpscNode. The queue never owns nodes.
template <class Node>
class MpscQueue {
  public:
    MpscQueue() noexcept : head_(&stub_), tail_(&stub_) {}
    MpscQueue(const MpscQueue&) = delete;
    MpscQueue& operator=(const MpscQueue&) = delete;

    /// Any thread.
    void push(Node* node) noexcept { push_node(node); }

    /// Consumer thread only. nullptr when empty (or while a concurrent push is incomplete).
    Node* pop() noexcept {
        MpscNode* tail = tail_;
        MpscNode* next = tail->mpsc_next.load(std::memory_order_acquire);
        if (tail == &stub_) {
            if (!next) {
                return nullptr;
            }
            tail_ = next;
            tail = next;
            next = next->mpsc_next.load(std::memory_order_acquire);
        }
        if (next) {
            tail_ = next;
            return static_cast<Node*>(tail);
        }
        if (tail != head_.load(std::memory_order_acquire)) {
            return nullptr;
        }
        push_node(&stub_);
        next = tail->mpsc_next.load(std::memory_order_acquire);
        if (next) {
            tail_ = next;
            return static_cast<Node*>(tail);
        }
        return nullptr;
    }

  private:
    void push_node(MpscNode* n) noexcept {
        n->mpsc_next.store(nullptr, std::memory_order_relaxed);
        MpscNode* prev = head_.exchange(n, std::memory_order_acq_rel);
        prev->mpsc_next.store(n, std::memory_order_release);
    }

    MpscNode stub_;
    std::atomic<MpscNode*> head_;
    MpscNode* tail_;
};

}  // namespace keel
