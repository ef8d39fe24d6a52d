#pragma once
// Webhooks: an optional `webhook.url` receives a signed JSON event when a link is created or
// deleted. Delivery is asynchronous (the request that caused it never waits), retried with
// exponential back-off, at least once (receivers dedupe on X-Linkd-Delivery), and drained at
// graceful shutdown up to a deadline; whatever is left then is logged, never silently lost.
//
// Signature: X-Linkd-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)> with
// X-Linkd-Timestamp: <unix seconds>, so receivers can also refuse replays of old events.

#include "domain/model.hpp"
#include "service/events.hpp"

#include <keel/client/client.hpp>
#include <keel/core/loop.hpp>
#include <keel/observe/log.hpp>

#include <atomic>
#include <deque>
#include <string>

namespace linkd {

struct WebhookOptions {
    std::string url = {};     ///< empty: webhooks off
    std::string secret = {};  ///< HMAC key
    int max_attempts = 6;
    keel::Duration retry_base = std::chrono::milliseconds(200);
    keel::Duration retry_max = std::chrono::seconds(10);
    std::size_t max_queue = 10'000;  ///< events beyond are refused (and logged)
    std::size_t concurrency = 4;
};

struct WebhookStats {
    std::uint64_t delivered = 0;
    std::uint64_t failed = 0;   ///< gave up after max_attempts
    std::uint64_t refused = 0;  ///< queue full
    std::size_t pending = 0;    ///< queued or being delivered
};

/// "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body): what receivers recompute.
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body);

/// Sends LinkEvents as webhooks.
class WebhookSender final : public LinkEvents {
  public:
    /// Deliveries run on `loop` (linkd's background loop) with `client`.
    WebhookSender(WebhookOptions options, keel::client::Client& client, keel::Loop& loop, keel::log::Logger* logger);

    bool enabled() const noexcept { return !options_.url.empty(); }
    /// Queue "link.created" / "link.deleted". Any thread; never block.
    void link_created(const Link& link) override { publish("link.created", link); }
    void link_deleted(const Link& link) override { publish("link.deleted", link); }
    /// Waits (blocking; not on `loop`) until nothing is pending or `deadline`; returns what
    /// was still pending then, after logging each undelivered event.
    std::size_t drain(keel::TimePoint deadline);
    WebhookStats stats() const;

  private:
    struct Event {
        std::string id = {};
        std::string type = {};
        std::string body = {};
    };
    void publish(std::string_view type, const Link& link);
    void pump();  // loop thread
    keel::Task<void> deliver(Event e);

    WebhookOptions options_;
    keel::client::Client& client_;
    keel::Loop& loop_;
    keel::log::Logger* logger_;
    std::deque<Event> queue_;    // loop thread
    std::size_t in_flight_ = 0;  // loop thread
    std::atomic<std::size_t> pending_{0};
    std::atomic<std::uint64_t> delivered_{0}, failed_{0}, refused_{0};
};

}  // namespace linkd
