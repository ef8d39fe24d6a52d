#include "events/webhooks.hpp"

#include "service/clock.hpp"
#include "service/crypto.hpp"

#include <keel/core/sleep.hpp>
#include <keel/json/describe.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <future>
#include <optional>
#include <random>
#include <thread>

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

WebhookSender::WebhookSender(WebhookOptions options, keel::client::Client& client, keel::Loop& loop,
                             keel::log::Logger* logger)
    : options_(std::move(options)), client_(client), loop_(loop), logger_(logger) {}

void WebhookSender::publish(std::string_view type, const Link& link) {
    if (!enabled()) {
        return;
    }
    Event e;
    e.id = "evt_" + random_base62(20);
    e.type = std::string(type);
    e.body = keel::json::encode(
        EventPayload{.id = e.id,
                     .type = e.type,
                     .occurred_at = format_time(system_now()),
                     .link = {.slug = link.slug,
                              .url = link.url,
                              .permanent = link.permanent,
                              .created_at = format_time(link.created_at),
                              .expires_at = link.expires_at ? std::optional<std::string>(format_time(*link.expires_at))
                                                            : std::nullopt}});
    if (pending_.load() >= options_.max_queue) {
        refused_.fetch_add(1);
        if (logger_) {
            logger_->error("webhook queue full: event not sent",
                           {{"event", e.id}, {"type", e.type}, {"slug", link.slug}});
        }
        return;
    }
    pending_.fetch_add(1);
    loop_.post([this, e = std::move(e)]() mutable {
        queue_.push_back(std::move(e));
        pump();
    });
}

void WebhookSender::pump() {
    while (in_flight_ < options_.concurrency && !queue_.empty()) {
        ++in_flight_;
        Event e = std::move(queue_.front());
        queue_.pop_front();
        keel::spawn(deliver(std::move(e)), [this](std::exception_ptr) {
            --in_flight_;
            pending_.fetch_sub(1);
            pump();
        });
    }
}

keel::Task<void> WebhookSender::deliver(Event e) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    for (int attempt = 1;; ++attempt) {
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
            .idempotent = false};  // retried here, with this sender's own policy
        auto res = co_await client_.send(std::move(req));
        if (res && res->status >= 200 && res->status < 300) {
            delivered_.fetch_add(1);
            co_return;
        }
        std::string why = res ? "status " + std::to_string(res->status) : std::string(res.error().message());
        if (attempt >= options_.max_attempts) {
            failed_.fetch_add(1);
            if (logger_) {
                logger_->error("webhook not delivered: giving up",
                               {{"event", e.id}, {"type", e.type}, {"attempts", attempt}, {"error", why}});
            }
            co_return;
        }
        keel::Duration cap = std::min(options_.retry_max, options_.retry_base * (1 << std::min(attempt - 1, 16)));
        std::uniform_int_distribution<keel::Duration::rep> pick(cap.count() / 2, cap.count());
        co_await keel::sleep_for(keel::Duration(pick(rng)));
    }
}

std::size_t WebhookSender::drain(keel::TimePoint deadline) {
    while (pending_.load() > 0 && keel::Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::size_t left = pending_.load();
    if (left > 0 && logger_) {
        // The loop is about to stop: name what did not go out so it can be replayed.
        std::promise<void> listed;
        loop_.post([this, &listed, left] {
            for (const Event& e : queue_) {
                logger_->error("webhook not delivered before shutdown",
                               {{"event", e.id}, {"type", e.type}, {"body", e.body}});
            }
            logger_->error("webhooks pending at shutdown", {{"pending", left}, {"in_flight", in_flight_}});
            listed.set_value();
        });
        listed.get_future().wait_for(std::chrono::seconds(2));
    }
    return left;
}

WebhookStats WebhookSender::stats() const {
    return {delivered_.load(), failed_.load(), refused_.load(), pending_.load()};
}

}  // namespace linkd
