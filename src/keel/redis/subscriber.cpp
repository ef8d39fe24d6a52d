#include <keel/redis/subscriber.hpp>

#include "hiredis_loop.hpp"

#include <keel/core/destroy_on_loop.hpp>

namespace keel::redis {

/// The connection, its subscription and its reconnect timer; loop thread only.
class Subscriber::Session {
  public:
    Session(Loop& loop, Options o, std::vector<std::string> channels, OnMessage on_message,
            std::function<void()> on_subscribed)
        : loop_(loop),
          options_(std::move(o)),
          channels_(std::move(channels)),
          on_message_(std::move(on_message)),
          on_subscribed_(std::move(on_subscribed)),
          adapter_(loop),
          backoff_(options_) {}

    ~Session() {
        closing_ = true;
        if (retry_timer_) {
            loop_.cancel(retry_timer_);
        }
        adapter_.close();  // the subscription callback gets one last call without a reply
    }

    void start() {
        retry_timer_ = 0;
        if (!adapter_.connect(options_, this, last_error_)) {
            retry_later();
            return;
        }
        redisAsyncContext* ac = adapter_.context();
        redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
            auto* self = static_cast<Session*>(c->data);
            if (status != REDIS_OK) {
                self->last_error_ = c->errstr;
                self->retry_later();  // hiredis frees the context after this callback
            } else {
                self->subscribe();
            }
        });
        redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int) {
            auto* self = static_cast<Session*>(c->data);
            self->subscribed_.store(false, std::memory_order_relaxed);
            self->confirmed_ = 0;
            if (!self->closing_) {
                self->last_error_ = self->adapter_.setup_error().empty() ? c->errstr : self->adapter_.setup_error();
                self->retry_later();
            }
        });
        // A peer that vanishes without closing is noticed by TCP keep-alive.
        (void)redisEnableKeepAlive(&ac->c);
    }

    bool subscribed() const noexcept { return subscribed_.load(std::memory_order_relaxed); }
    SubscriberStats stats() const noexcept {
        return {messages_.load(std::memory_order_relaxed), subscribes_.load(std::memory_order_relaxed),
                failures_.load(std::memory_order_relaxed)};
    }

  private:
    void subscribe() {
        std::vector<const char*> argv{"SUBSCRIBE"};
        std::vector<std::size_t> lens{9};
        for (const auto& c : channels_) {
            argv.push_back(c.data());
            lens.push_back(c.size());
        }
        // hiredis keeps this callback for every message of the subscription.
        if (redisAsyncCommandArgv(adapter_.context(), &Session::on_reply, this, static_cast<int>(argv.size()),
                                  argv.data(), lens.data()) != REDIS_OK) {
            loop_.defer([this] { adapter_.close(); });  // the disconnect callback retries
        }
    }

    static void on_reply(redisAsyncContext*, void* reply, void* privdata) {
        auto* self = static_cast<Session*>(privdata);
        auto* r = static_cast<redisReply*>(reply);
        if (r == nullptr || self->closing_) {
            return;  // the connection went: the disconnect callback reconnects
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING) {
            return;
        }
        std::string_view kind(r->element[0]->str, r->element[0]->len);
        const redisReply* channel = r->element[1];
        const redisReply* payload = r->element[2];
        if (kind == "message" && channel->type == REDIS_REPLY_STRING && payload->type == REDIS_REPLY_STRING) {
            self->messages_.fetch_add(1, std::memory_order_relaxed);
            self->on_message_(std::string_view(channel->str, channel->len),
                              std::string_view(payload->str, payload->len));
        } else if (kind == "subscribe" && ++self->confirmed_ == self->channels_.size()) {
            self->backoff_.reset();
            self->subscribed_.store(true, std::memory_order_relaxed);
            self->subscribes_.fetch_add(1, std::memory_order_relaxed);
            if (self->on_subscribed_) {
                self->on_subscribed_();
            }
        }
    }

    void retry_later() {
        if (!closing_ && retry_timer_ == 0) {
            failures_.fetch_add(1, std::memory_order_relaxed);
            retry_timer_ = loop_.run_after(backoff_.next(), [this] { start(); });
        }
    }

    Loop& loop_;
    Options options_;
    std::vector<std::string> channels_;
    OnMessage on_message_;
    std::function<void()> on_subscribed_;
    detail::LoopAdapter adapter_;
    detail::Backoff backoff_;
    std::string last_error_;
    TimerId retry_timer_ = 0;
    std::size_t confirmed_ = 0;
    bool closing_ = false;
    std::atomic<bool> subscribed_{false};
    std::atomic<std::uint64_t> messages_{0}, subscribes_{0}, failures_{0};
};

Subscriber::Subscriber(Loop& loop, Options options, std::vector<std::string> channels, OnMessage on_message,
                       std::function<void()> on_subscribed)
    : loop_(loop),
      session_(std::make_unique<Session>(loop, std::move(options), std::move(channels), std::move(on_message),
                                         std::move(on_subscribed))) {
    loop_.post([session = session_.get(), alive = alive_] {
        if (alive->load()) {
            session->start();
        }
    });
}

Subscriber::~Subscriber() {
    alive_->store(false);  // a loop that has not run yet must not start a deleted session
    destroy_on_loop(loop_, std::move(session_));
}

bool Subscriber::subscribed() const noexcept {
    return session_->subscribed();
}

SubscriberStats Subscriber::stats() const noexcept {
    return session_->stats();
}

}  // namespace keel::redis
