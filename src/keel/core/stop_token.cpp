#include <keel/core/stop_token.hpp>

namespace keel {

StopCallback::StopCallback(const StopToken& token, std::function<void()> fn) : fn_(std::move(fn)) {
    if (!token.source_) {
        return;
    }
    if (token.source_->stop_requested()) {
        fn_();
        return;
    }
    source_ = token.source_;
    source_->add(this);
}

StopCallback::~StopCallback() {
    if (source_) {
        source_->remove(this);
    }
}

StopSource::~StopSource() {
    // Detach callbacks that outlive us so their destructors do not touch freed memory.
    while (head_) {
        StopCallback* cb = head_;
        remove(cb);
    }
}

void StopSource::add(StopCallback* cb) noexcept {
    cb->prev_ = tail_;
    cb->next_ = nullptr;
    if (tail_) {
        tail_->next_ = cb;
    } else {
        head_ = cb;
    }
    tail_ = cb;
}

void StopSource::remove(StopCallback* cb) noexcept {
    if (cb->prev_) {
        cb->prev_->next_ = cb->next_;
    } else {
        head_ = cb->next_;
    }
    if (cb->next_) {
        cb->next_->prev_ = cb->prev_;
    } else {
        tail_ = cb->prev_;
    }
    cb->prev_ = cb->next_ = nullptr;
    cb->source_ = nullptr;
}

bool StopSource::request_stop() {
    if (stopped_.exchange(true, std::memory_order_acq_rel)) {
        return false;
    }
    // A callback may destroy other callbacks (or itself): unlink before calling.
    while (head_) {
        StopCallback* cb = head_;
        remove(cb);
        cb->fn_();
    }
    return true;
}

}  // namespace keel
