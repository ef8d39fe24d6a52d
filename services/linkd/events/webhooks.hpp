#pragma once
// Webhooks: an optional `webhook.url` receives a signed JSON event when a link is created or
// deleted. Each event is a job (kind "webhook.deliver", queue "webhooks") stored in the same
// transaction as the change, so an acknowledged change always gets its event, across crashes
// and restarts. Its id (X-Linkd-Delivery) is chosen once, when the event is made, and is the
// same on every attempt: delivery is at least once, and receivers dedupe on it. Retries follow
// webhook.retry_base / webhook.retry_max (exponential, with jitter) up to
// webhook.max_attempts; then the job is kept as discarded (GET /debug/jobs shows it).
//
// Signature: X-Linkd-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)> with
// X-Linkd-Timestamp: <unix seconds> (of the attempt), so receivers can also refuse replays.

#include "domain/model.hpp"
#include "service/events.hpp"

#include <keel/client/client.hpp>
#include <keel/jobs/runner.hpp>
#include <keel/observe/log.hpp>

#include <atomic>
#include <string>

namespace linkd {

struct WebhookOptions {
    std::string url = {};     ///< empty: webhooks off
    std::string secret = {};  ///< HMAC key
    int max_attempts = 6;
    keel::Duration retry_base = std::chrono::seconds(1);
    keel::Duration retry_max = std::chrono::minutes(10);
    keel::Duration timeout = std::chrono::seconds(5);  ///< one attempt
    int concurrency = 4;                               ///< deliveries at once per process
};

struct WebhookStats {
    std::uint64_t delivered = 0;
    std::uint64_t failed = 0;    ///< attempts that failed (each is retried until max_attempts)
    std::uint64_t given_up = 0;  ///< events whose last attempt failed (kept as discarded jobs)
};

/// "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body): what receivers recompute.
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body);

/// The job kind and queue of a webhook delivery.
inline constexpr std::string_view kWebhookKind = "webhook.deliver";
inline constexpr std::string_view kWebhookQueue = "webhooks";

/// Makes LinkEvents into webhook jobs, and delivers them.
class Webhooks final : public LinkEvents {
  public:
    Webhooks(WebhookOptions options, keel::client::Client& client, keel::log::Logger* logger);

    bool enabled() const noexcept { return !options_.url.empty(); }
    std::optional<keel::jobs::NewJob> link_created(const Link& link) override { return event("link.created", link); }
    std::optional<keel::jobs::NewJob> link_deleted(const Link& link) override { return event("link.deleted", link); }
    /// Registers the delivery handler (one attempt per run) with `runner`.
    void install(keel::jobs::Runner& runner);
    /// The runner's queue for deliveries.
    keel::jobs::QueueOptions queue() const {
        return {.name = std::string(kWebhookQueue), .concurrency = options_.concurrency};
    }
    WebhookStats stats() const;

  private:
    std::optional<keel::jobs::NewJob> event(std::string_view type, const Link& link) const;

    WebhookOptions options_;
    keel::client::Client& client_;
    keel::log::Logger* logger_;
    std::atomic<std::uint64_t> delivered_{0}, failed_{0}, given_up_{0};
};

}  // namespace linkd
