#include <keel/cache/redis.hpp>

#include "hiredis_loop.hpp"

#include <sys/epoll.h>

#include <coroutine>
#include <optional>

namespace keel::redis {
namespace detail {

Reply convert(const redisReply* r) {
    Reply out;
    switch (r->type) {
    case REDIS_REPLY_STRING:
        out.type = Reply::Type::string;
        out.str.assign(r->str, r->len);
        break;
    case REDIS_REPLY_STATUS:
        out.type = Reply::Type::status;
        out.str.assign(r->str, r->len);
        break;
    case REDIS_REPLY_ERROR:
        out.type = Reply::Type::error;
        out.str.assign(r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        out.type = Reply::Type::integer;
        out.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.type = Reply::Type::array;
        for (std::size_t i = 0; i < r->elements; ++i) {
            out.elements.push_back(convert(r->element[i]));
        }
        break;
    default:
        out.type = Reply::Type::nil;
    }
    return out;
}

bool LoopAdapter::connect(const Options& o, void* owner, std::string& error) {
    redisAsyncContext* ac = redisAsyncConnect(o.host.c_str(), o.port);
    if (!ac || ac->err) {
        error = ac ? ac->errstr : "out of memory";
        if (ac) {
            redisAsyncFree(ac);
        }
        return false;
    }
    ac_ = ac;
    ac->data = owner;
    fd_ = ac->c.fd;
    ac->ev.data = this;
    ac->ev.addRead = [](void* d) { static_cast<LoopAdapter*>(d)->want(EPOLLIN, true); };
    ac->ev.delRead = [](void* d) { static_cast<LoopAdapter*>(d)->want(EPOLLIN, false); };
    ac->ev.addWrite = [](void* d) { static_cast<LoopAdapter*>(d)->want(EPOLLOUT, true); };
    ac->ev.delWrite = [](void* d) { static_cast<LoopAdapter*>(d)->want(EPOLLOUT, false); };
    ac->ev.cleanup = [](void* d) { static_cast<LoopAdapter*>(d)->gone(); };
    return true;
}

void LoopAdapter::on_io(std::uint32_t ev) {
    if (!ac_) {
        return;
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        redisAsyncHandleRead(ac_);
    }
    if (ac_ && (ev & EPOLLOUT)) {
        redisAsyncHandleWrite(ac_);
    }
    if (ac_ && watched_) {
        (void)loop_.modify(fd_, events_ | EPOLLRDHUP, this);
    }
}

void LoopAdapter::want(std::uint32_t bit, bool on) {
    std::uint32_t next = on ? (events_ | bit) : (events_ & ~bit);
    if (next == events_ && watched_) {
        return;
    }
    events_ = next;
    if (!watched_) {
        watched_ = static_cast<bool>(loop_.watch(fd_, events_ | EPOLLRDHUP, this));
    } else {
        (void)loop_.modify(fd_, events_ | EPOLLRDHUP, this);
    }
}

void LoopAdapter::gone() {
    if (watched_) {
        loop_.unwatch(fd_);
        watched_ = false;
    }
    events_ = 0;
    ac_ = nullptr;
}

}  // namespace detail

namespace {

/// One command waiting for its reply, shared by the awaiting coroutine and hiredis' callback
/// (which comes exactly once: with the reply, or without one when the connection goes).
struct Pending {
    Loop* loop = nullptr;
    std::coroutine_handle<> h;
    std::optional<Result<Reply>> result;
    TimerId timer = 0;
    void finish(Result<Reply> r) {
        if (result) {
            return;  // timed out already
        }
        result.emplace(std::move(r));
        if (timer) {
            loop->cancel(timer);
            timer = 0;
        }
        loop->defer([h = h] { h.resume(); });  // outside hiredis' call stack
    }
};

/// The awaiter holds plain pointers only: GCC 12 destroys a non-trivial temporary in a
/// co_await operand twice (seen here with a weak_ptr member under ASan).
struct Wait {
    Pending* p;
    std::function<void(std::coroutine_handle<>)>* arm;
    bool await_ready() const noexcept { return p->result.has_value(); }
    void await_suspend(std::coroutine_handle<> h) { (*arm)(h); }
    void await_resume() const noexcept {}
};

}  // namespace

/// One pipelined connection on one loop.
class Client::Connection {
public:
    Connection(Loop& loop, const Options& o, std::shared_ptr<Counters> counters)
        : loop_(loop), options_(o), counters_(std::move(counters)), adapter_(loop), backoff_(o) {}
    ~Connection() { adapter_.close(); }

    Task<Result<Reply>> command(std::vector<std::string> args) {
        // The client may be destroyed while this waits (its connections first): after the
        // wait, touch only what this frame owns.
        std::shared_ptr<Counters> counters = counters_;
        counters->commands.fetch_add(1, std::memory_order_relaxed);
        if (!adapter_.context() && !connect()) {
            counters_->errors.fetch_add(1, std::memory_order_relaxed);
            co_return Error::with_detail(Errc::unavailable, "redis: unavailable: " + last_error_);
        }
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        std::shared_ptr<Pending> p = std::make_shared<Pending>();
        p->loop = &loop_;
        auto* ref = new std::shared_ptr<Pending>(p);  // freed by on_reply
        if (redisAsyncCommandArgv(adapter_.context(), &Connection::on_reply, ref, static_cast<int>(argv.size()),
                                  argv.data(), lens.data()) != REDIS_OK) {
            delete ref;
            counters_->errors.fetch_add(1, std::memory_order_relaxed);
            co_return Error(Errc::unavailable, "redis: cannot send the command");
        }
        std::weak_ptr<Pending> weak = p;
        std::function<void(std::coroutine_handle<>)> arm = [this, &p, &weak](std::coroutine_handle<> h) {
            p->h = h;
            p->timer = loop_.run_after(options_.timeout, [weak, this] {
                auto pending = weak.lock();
                if (!pending || pending->result) {
                    return;
                }
                pending->timer = 0;
                pending->finish(Error(Errc::timeout, "redis: command timed out"));
                // Replies can no longer be matched to commands: drop the connection.
                loop_.defer([this] { adapter_.close(); });
            });
        };
        co_await Wait{p.get(), &arm};
        if (!p->result->has_value()) {
            counters->errors.fetch_add(1, std::memory_order_relaxed);
        }
        co_return std::move(*p->result);
    }

private:
    bool connect() {
        if (Clock::now() < retry_at_) {
            return false;  // backing off
        }
        if (!adapter_.connect(options_, this, last_error_)) {
            retry_at_ = Clock::now() + backoff_.next();
            return false;
        }
        redisAsyncContext* ac = adapter_.context();
        redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
            auto* self = static_cast<Connection*>(c->data);
            if (status != REDIS_OK) {
                self->last_error_ = c->errstr;
                self->retry_at_ = Clock::now() + self->backoff_.next();
            } else {
                self->counters_->connects.fetch_add(1, std::memory_order_relaxed);
                self->backoff_.reset();
            }
        });
        redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int status) {
            auto* self = static_cast<Connection*>(c->data);
            if (status != REDIS_OK) {
                self->last_error_ = c->errstr;
                self->retry_at_ = Clock::now() + self->backoff_.next();
            }
        });
        return true;
    }

    static void on_reply(redisAsyncContext*, void* reply, void* privdata) {
        auto* ref = static_cast<std::shared_ptr<Pending>*>(privdata);
        std::shared_ptr<Pending> p = *ref;
        delete ref;
        if (reply == nullptr) {
            p->finish(Error(Errc::unavailable, "redis: connection lost"));
        } else {
            p->finish(detail::convert(static_cast<redisReply*>(reply)));
        }
    }

    Loop& loop_;
    Options options_;
    std::shared_ptr<Counters> counters_;
    detail::LoopAdapter adapter_;
    detail::Backoff backoff_;
    std::string last_error_ = "not connected";
    TimePoint retry_at_{};
};

Client::Client(Options options)
    : options_(std::move(options)),
      connections_([this](Loop& loop) { return std::make_unique<Connection>(loop, options_, counters_); }) {}

Client::~Client() = default;

Task<Result<Reply>> Client::command(std::vector<std::string> args) {
    co_return co_await connections_.get().command(std::move(args));
}

Stats Client::stats() const {
    return {counters_->commands.load(), counters_->errors.load(), counters_->connects.load()};
}

}  // namespace keel::redis
