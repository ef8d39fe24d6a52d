#pragma once
/// keel::redis::Subscriber: a Redis pub/sub subscription on its own connection, kept alive.
///
///     keel::redis::Subscriber sub(loop, options, {"invalidate"},
///         [&](std::string_view /*channel*/, std::string_view message) { cache.erase(message); },
///         [&] { cache.clear(); });  // (re)subscribed: what was published meanwhile is lost
///
/// - Messages arrive on `loop`, in the order Redis sent them.
/// - When the connection goes (Redis restarted, network), it reconnects by itself, backing
///   off from reconnect_min to reconnect_max, and subscribes again. Redis does not keep
///   messages for absent subscribers, so `on_subscribed` runs after every (re)subscription:
///   the place to resynchronise (for a cache, forget what might be stale).
/// - Publish with Client::command({"PUBLISH", channel, message}).
///
/// Thread rules: construct and destroy on any thread; callbacks run on `loop`'s thread.

#include <keel/redis/client.hpp>

#include <functional>
#include <string_view>

namespace keel::redis {

struct SubscriberStats {
    std::uint64_t messages = 0;
    std::uint64_t subscribes = 0;  ///< successful (re)subscriptions
    std::uint64_t failures = 0;    ///< connections that failed or dropped (each schedules a retry)
};

class Subscriber {
  public:
    using OnMessage = std::function<void(std::string_view channel, std::string_view message)>;

    Subscriber(Loop& loop, Options options, std::vector<std::string> channels, OnMessage on_message,
               std::function<void()> on_subscribed = {});
    ~Subscriber();
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

    /// True while every channel is subscribed.
    bool subscribed() const noexcept;
    SubscriberStats stats() const noexcept;

    class Session;  // lives on the loop (private)

  private:
    Loop& loop_;
    std::unique_ptr<Session> session_;
    std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace keel::redis
