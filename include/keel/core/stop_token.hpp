#pragma once
/// keel::StopSource / StopToken / StopCallback: cancellation for one request (client gone,
/// deadline passed, server shutting down). Unlike std::stop_source it never allocates, so a
/// connection can own one and reuse it for every request.
///
/// Thread rules: request_stop() and callback registration happen on the owning loop thread;
/// stop_requested() may be read from any thread (e.g. by offloaded work).

#include <atomic>
#include <cstdint>
#include <functional>

namespace keel {

class StopSource;

/// A callback run once when its source stops; deregisters itself on destruction.
/// If the source has already stopped at construction, the callback runs immediately.
class StopCallback {
  public:
    StopCallback(const class StopToken& token, std::function<void()> fn);
    ~StopCallback();
    StopCallback(const StopCallback&) = delete;
    StopCallback& operator=(const StopCallback&) = delete;

  private:
    friend class StopSource;
    StopSource* source_ = nullptr;
    StopCallback* prev_ = nullptr;
    StopCallback* next_ = nullptr;
    std::function<void()> fn_;
};

/// A view of a StopSource. A default-constructed token never stops.
class StopToken {
  public:
    StopToken() noexcept = default;
    bool stop_requested() const noexcept;
    bool stop_possible() const noexcept { return source_ != nullptr; }

  private:
    friend class StopSource;
    friend class StopCallback;
    explicit StopToken(StopSource* s) noexcept : source_(s) {}
    StopSource* source_ = nullptr;
};

class StopSource {
  public:
    StopSource() noexcept = default;
    StopSource(const StopSource&) = delete;
    StopSource& operator=(const StopSource&) = delete;
    ~StopSource();

    StopToken token() noexcept { return StopToken(this); }
    bool stop_requested() const noexcept { return stopped_.load(std::memory_order_acquire); }

    /// Fires every registered callback once (in registration order). Returns false if the
    /// source had already stopped.
    bool request_stop();

    /// Makes the source reusable for the next request. Callbacks must have been destroyed.
    void reset() noexcept { stopped_.store(false, std::memory_order_release); }

  private:
    friend class StopCallback;
    void add(StopCallback* cb) noexcept;
    void remove(StopCallback* cb) noexcept;

    std::atomic<bool> stopped_{false};
    StopCallback* head_ = nullptr;
    StopCallback* tail_ = nullptr;
};

inline bool StopToken::stop_requested() const noexcept {
    return source_ && source_->stop_requested();
}

}  // namespace keel
