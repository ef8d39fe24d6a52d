#pragma once
// Internal to the redis module: what the Redis command client and the subscriber share —
// hiredis' event-adapter hooks implemented on a keel loop, reply conversion, reconnect
// back-off.

#include <keel/redis/client.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <string>
#include <vector>

namespace keel::redis::detail {

Reply convert(const redisReply* r);

/// Drives one hiredis async context from `loop`. The loop's epoll is edge-triggered and
/// hiredis reads at most a buffer per call, so after handling an event the socket is re-armed
/// (EPOLL_CTL_MOD reports it again if data is still there). Loop thread only.
class LoopAdapter final : public IoWatcher {
  public:
    explicit LoopAdapter(Loop& loop) : loop_(loop) {}

    /// Starts connecting to host:port; `owner` becomes the context's `data` (what the connect
    /// and disconnect callbacks see). False with `error` set when it fails at once. AUTH and
    /// SELECT (when the options ask for them) are queued first, ahead of every command.
    bool connect(const Options& o, void* owner, std::string& error);

    /// Why the connection was dropped by keel itself (AUTH or SELECT refused), or empty. The
    /// disconnect callback reads it: hiredis reports such a drop as a clean one.
    const std::string& setup_error() const noexcept { return setup_error_; }

    /// The live context, or nullptr (never connected, or freed by hiredis).
    redisAsyncContext* context() const noexcept { return ac_; }

    /// Frees the context: callbacks still waiting are called without a reply.
    void close() {
        if (ac_) {
            redisAsyncFree(ac_);
        }
    }

    void on_io(std::uint32_t ev) override;

  private:
    void want(std::uint32_t bit, bool on);
    void gone();  // hiredis frees the context after this: forget it
    void send_setup(const char* what, std::vector<std::string> args);

    Loop& loop_;
    redisAsyncContext* ac_ = nullptr;
    int fd_ = -1;
    std::uint32_t events_ = 0;
    bool watched_ = false;
    std::string setup_error_;
};

/// Reconnect delays: reconnect_min, doubling up to reconnect_max, until reset() on success.
class Backoff {
  public:
    explicit Backoff(const Options& o) : min_(o.reconnect_min), max_(o.reconnect_max) {}
    Duration next() {
        delay_ = delay_ == Duration::zero() ? min_ : std::min(delay_ * 2, max_);
        return delay_;
    }
    void reset() { delay_ = Duration::zero(); }

  private:
    Duration min_, max_, delay_{};
};

}  // namespace keel::redis::detail
