#include <keel/redis/client.hpp>

#include "hiredis_loop.hpp"

#include <sys/epoll.h>

#include <keel/core/percent.hpp>
#include <keel/net/address.hpp>

#include <charconv>
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
    setup_error_.clear();
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
    // Queued now, so they go first on the wire, before anything the owner sends.
    if (!o.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!o.username.empty()) {
            auth.push_back(o.username);
        }
        auth.push_back(o.password);
        send_setup("AUTH refused", std::move(auth));
    }
    if (o.db != 0) {
        send_setup("SELECT refused", {"SELECT", std::to_string(o.db)});
    }
    return true;
}

void LoopAdapter::send_setup(const char* what, std::vector<std::string> args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    // The callback's privdata is the adapter plus what failed; both outlive the context.
    auto on_reply = [](redisAsyncContext* ac, void* reply, void* privdata) {
        auto* setup = static_cast<std::pair<LoopAdapter*, const char*>*>(privdata);
        auto* r = static_cast<redisReply*>(reply);
        LoopAdapter* self = setup->first;
        if (r != nullptr && r->type == REDIS_REPLY_ERROR && self->setup_error_.empty()) {
            self->setup_error_ = std::string("redis: ") + setup->second + ": " + std::string(r->str, r->len);
            redisAsyncDisconnect(ac);  // the owner's disconnect callback reads setup_error()
        }
        delete setup;
    };
    auto* setup = new std::pair<LoopAdapter*, const char*>(this, what);
    if (redisAsyncCommandArgv(ac_, on_reply, setup, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
        delete setup;
    }
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
            if (!self->adapter_.setup_error().empty()) {
                self->last_error_ = self->adapter_.setup_error();  // AUTH or SELECT refused
                self->retry_at_ = Clock::now() + self->backoff_.next();
            } else if (status != REDIS_OK) {
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

Result<Options> parse_url(std::string_view url) {
    constexpr std::string_view kScheme = "redis://";
    if (url.rfind("rediss://", 0) == 0) {
        return Error(Errc::invalid_argument,
                     "rediss:// (TLS) is not supported: Debian 12's hiredis 0.14 has no TLS; reach Redis over a "
                     "private network or through a TLS tunnel (stunnel, spiped) and use redis://");
    }
    if (url.rfind(kScheme, 0) != 0) {
        return Error(Errc::invalid_argument, "must look like redis://[[user]:password@]host[:port][/db]");
    }
    std::string_view rest = url.substr(kScheme.size());
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return Error(Errc::invalid_argument,
                     "query parameters are not supported; use redis://[[user]:password@]host[:port][/db]");
    }
    std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view db = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    Options o;
    std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        std::size_t colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            return Error(Errc::invalid_argument, "credentials must be written user:password@ or :password@");
        }
        auto user = keel::percent_decode(userinfo.substr(0, colon));
        auto password = keel::percent_decode(userinfo.substr(colon + 1));
        if (!user || !password) {
            return Error(Errc::invalid_argument, "credentials have a malformed percent-escape");
        }
        o.username = std::move(*user);
        o.password = std::move(*password);
        authority = authority.substr(at + 1);
    }
    auto hp = net::parse_host_port(authority, 6379);
    if (!hp) {
        return Error::with_detail(Errc::invalid_argument, std::string(hp.error().message()));
    }
    if (hp->host.empty()) {
        return Error(Errc::invalid_argument, "missing host");
    }
    if (hp->port == 0) {
        return Error(Errc::invalid_argument, "port must be a number from 1 to 65535");
    }
    o.host = std::move(hp->host);
    o.port = hp->port;
    while (!db.empty() && db.back() == '/') {
        db.remove_suffix(1);
    }
    if (!db.empty()) {
        auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), o.db);
        if (ec != std::errc() || end != db.data() + db.size() || o.db < 0) {
            return Error(Errc::invalid_argument, "the path must be a database number (/0, /1, ...)");
        }
    }
    return o;
}

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
