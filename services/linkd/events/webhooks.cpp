#include "events/webhooks.hpp"

#include "service/clock.hpp"
#include "service/crypto.hpp"

#include <keel/json/describe.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <optional>

namespace linkd {
namespace {

// The event's JSON: {"id","type","occurred_at","link":{"slug","url","permanent","created_at","expires_at"}}.
struct LinkPayload {
    std::string slug = {};
    std::string url = {};
    bool permanent = false;
    std::string created_at = {};
    std::optional<std::string> expires_at = {};
};
KEEL_JSON(LinkPayload, slug, url, permanent, created_at, expires_at)

struct EventPayload {
    std::string id = {};
    std::string type = {};
    std::string occurred_at = {};
    LinkPayload link = {};
};
KEEL_JSON(EventPayload, id, type, occurred_at, link)

// A delivery job's arguments: the event as it is sent, fixed when the change is stored.
struct WebhookJob {
    std::string id = {};
    std::string type = {};
    std::string body = {};
};
KEEL_JSON(WebhookJob, id, type, body)

}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
    std::string message = std::string(timestamp) + "." + std::string(body);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), md, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 15];
    }
    return out;
}

Webhooks::Webhooks(WebhookOptions options, keel::client::Client& client, keel::log::Logger* logger)
    : options_(std::move(options)), client_(client), logger_(logger) {}

std::optional<keel::jobs::NewJob> Webhooks::event(std::string_view type, const Link& link) const {
    if (!enabled()) {
        return std::nullopt;
    }
    WebhookJob job{.id = "evt_" + random_base62(20), .type = std::string(type)};
    job.body = keel::json::encode(
        EventPayload{.id = job.id,
                     .type = job.type,
                     .occurred_at = format_time(system_now()),
                     .link = {.slug = link.slug,
                              .url = link.url,
                              .permanent = link.permanent,
                              .created_at = format_time(link.created_at),
                              .expires_at = link.expires_at ? std::optional<std::string>(format_time(*link.expires_at))
                                                            : std::nullopt}});
    keel::jobs::NewJob made = keel::jobs::make(std::string(kWebhookKind), job);
    made.queue = std::string(kWebhookQueue);
    made.max_attempts = options_.max_attempts;
    return made;
}

void Webhooks::install(keel::jobs::Runner& runner) {
    keel::jobs::KindOptions kind{.timeout = options_.timeout + std::chrono::seconds(1),
                                 .retry = {.base = options_.retry_base, .max = options_.retry_max}};
    runner.handle<WebhookJob>(
        std::string(kWebhookKind),
        [this](keel::jobs::Context& ctx, WebhookJob e) -> keel::Task<keel::Result<void>> {
            std::string ts = std::to_string(system_now());
            keel::client::ClientRequest req{
                .method = "POST",
                .url = options_.url,
                .headers = {{"Content-Type", "application/json"},
                            {"X-Linkd-Event", e.type},
                            {"X-Linkd-Delivery", e.id},
                            {"X-Linkd-Timestamp", ts},
                            {"X-Linkd-Signature", webhook_signature(options_.secret, ts, e.body)}},
                .body = e.body,
                .idempotent = false};  // retried by the job, with its back-off
            if (!ctx.job().trace_parent.empty()) {
                req.headers.emplace_back("traceparent", ctx.job().trace_parent);  // the creating request's trace
            }
            auto res = co_await client_.send(std::move(req));
            if (res && res->status >= 200 && res->status < 300) {
                delivered_.fetch_add(1);
                co_return keel::Result<void>{};
            }
            std::string why = res ? "status " + std::to_string(res->status) : std::string(res.error().message());
            failed_.fetch_add(1);
            if (ctx.job().attempt >= ctx.job().max_attempts) {
                given_up_.fetch_add(1);
                if (logger_) {
                    logger_->error("webhook not delivered: giving up", {{"event", e.id},
                                                                        {"type", e.type},
                                                                        {"job", ctx.job().id},
                                                                        {"attempts", ctx.job().attempt},
                                                                        {"error", why},
                                                                        {"traceparent", ctx.job().trace_parent}});
                }
            }
            co_return keel::Error::with_detail(keel::Errc::unavailable, "webhook " + e.id + ": " + why);
        },
        kind);
}

WebhookStats Webhooks::stats() const {
    return {delivered_.load(), failed_.load(), given_up_.load()};
}

}  // namespace linkd
