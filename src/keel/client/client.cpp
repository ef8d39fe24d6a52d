#include <keel/client/client.hpp>

#include <keel/core/sleep.hpp>

#include <curl/curl.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cctype>
#include <coroutine>
#include <random>

namespace keel::client {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/// One request in flight: the easy handle and what it collects.
struct Transfer {
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    ClientResponse response;
    std::size_t limit = 0;
    bool too_large = false;
    CURLcode result = CURLE_OK;
    std::coroutine_handle<> waiting;
    char error[CURL_ERROR_SIZE] = {};

    ~Transfer() {
        curl_slist_free_all(headers);
        if (easy) {
            curl_easy_cleanup(easy);
        }
    }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    std::size_t bytes = size * n;
    if (t->response.body.size() + bytes > t->limit) {
        t->too_large = true;
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    t->response.body.append(data, bytes);
    return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    std::string_view line(data, size * n);
    if (line.substr(0, 5) == "HTTP/") {
        t->response.headers.clear();  // a new response (after 100 Continue, or a redirect)
        return line.size();
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        return line.size();
    }
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
            s.remove_prefix(1);
        }
        while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) {
            s.remove_suffix(1);
        }
        return s;
    };
    t->response.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                     std::string(trim(line.substr(colon + 1))));
    return line.size();
}

}  // namespace

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

// ---- Driver: one libcurl multi handle driven by one loop ----------------------------------

class Client::Driver {
  public:
    Driver(Loop& loop, const ClientOptions& o) : loop_(loop) {
        multi_ = curl_multi_init();
        curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Driver::on_socket);
        curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
        curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Driver::on_timer);
        curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
        curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(o.max_connections_per_host));
        curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(o.max_idle));
    }
    ~Driver() {
        if (timer_) {
            loop_.cancel(timer_);
        }
        curl_multi_cleanup(multi_);  // closes cached connections (socket callbacks: REMOVE)
    }
    Loop& loop() noexcept { return loop_; }

    void start(Transfer* t) { curl_multi_add_handle(multi_, t->easy); }

  private:
    /// A socket libcurl asked us to watch. The loop's epoll is edge-triggered while libcurl
    /// assumes level-triggered readiness, so after each action the socket is re-armed
    /// (EPOLL_CTL_MOD reports it again if it is still ready).
    struct Socket final : IoWatcher {
        Driver* driver;
        curl_socket_t fd;
        std::uint32_t events = 0;
        bool removed = false;
        void on_io(std::uint32_t ev) override {
            int flags = 0;
            if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) {
                flags |= CURL_CSELECT_IN;
            }
            if (ev & EPOLLOUT) {
                flags |= CURL_CSELECT_OUT;
            }
            if (ev & EPOLLERR) {
                flags |= CURL_CSELECT_ERR;
            }
            driver->action(fd, flags);
            if (!removed) {
                (void)driver->loop_.modify(fd, events, this);
            }
        }
    };

    static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
        auto* d = static_cast<Driver*>(userp);
        auto* s = static_cast<Socket*>(socketp);
        if (what == CURL_POLL_REMOVE) {
            if (s) {
                s->removed = true;
                d->loop_.unwatch(fd);
                curl_multi_assign(d->multi_, fd, nullptr);
                d->loop_.defer([s] { delete s; });  // events of this batch may still name it
            }
            return 0;
        }
        std::uint32_t events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
        if (!s) {
            s = new Socket;
            s->driver = d;
            s->fd = fd;
            s->events = events;
            if (!d->loop_.watch(fd, events, s)) {
                delete s;
                return -1;
            }
            curl_multi_assign(d->multi_, fd, s);
        } else {
            s->events = events;
            (void)d->loop_.modify(fd, events, s);
        }
        return 0;
    }

    static int on_timer(CURLM*, long timeout_ms, void* userp) {
        auto* d = static_cast<Driver*>(userp);
        if (d->timer_) {
            d->loop_.cancel(d->timer_);
            d->timer_ = 0;
        }
        if (timeout_ms >= 0) {
            d->timer_ = d->loop_.run_after(std::chrono::milliseconds(timeout_ms), [d] {
                d->timer_ = 0;
                d->action(CURL_SOCKET_TIMEOUT, 0);
            });
        }
        return 0;
    }

    void action(curl_socket_t fd, int flags) {
        int running = 0;
        curl_multi_socket_action(multi_, fd, flags, &running);
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
            if (m->msg != CURLMSG_DONE) {
                continue;
            }
            Transfer* t = nullptr;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
            t->result = m->data.result;
            curl_multi_remove_handle(multi_, m->easy_handle);
            // Resume outside libcurl's call stack: the coroutine may start the next request.
            loop_.defer([h = t->waiting] { h.resume(); });
        }
    }

    Loop& loop_;
    CURLM* multi_ = nullptr;
    TimerId timer_ = 0;
};

// ---- Client --------------------------------------------------------------------------------

Client::Client(ClientOptions options)
    : options_(std::move(options)), drivers_([this](Loop& loop) { return std::make_unique<Driver>(loop, options_); }) {
    global_init();
}

Client::~Client() = default;

ClientStats Client::stats() const {
    return {requests_.load(), new_connections_.load(), reused_.load(), retries_.load(), failures_.load()};
}

Task<Result<ClientResponse>> Client::attempt(const ClientRequest& req) {
    Driver& d = drivers_.get();
    Transfer t;
    t.limit = options_.max_response_bytes;
    t.easy = curl_easy_init();
    if (!t.easy) {
        co_return Error(Errc::internal, "client: curl_easy_init failed");
    }
    CURL* e = t.easy;
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(
        e, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(options_.connect_timeout).count()));
    curl_easy_setopt(
        e, CURLOPT_TIMEOUT_MS,
        static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count()));
    curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (req.method == "HEAD") {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (req.method != "GET") {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());  // req outlives the transfer
        t.headers = curl_slist_append(t.headers, "Expect:");       // no 100-continue round trip
    }
    for (const auto& [k, v] : req.headers) {
        t.headers = curl_slist_append(t.headers, (k + ": " + v).c_str());
    }
    if (req.trace) {
        t.headers = curl_slist_append(t.headers, ("traceparent: " + req.trace->traceparent()).c_str());
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);

    struct Start {
        Driver& d;
        Transfer& t;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
            t.waiting = h;
            d.start(&t);
        }
        void await_resume() const noexcept {}
    };
    co_await Start{d, t};

    long connects = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    requests_.fetch_add(1, std::memory_order_relaxed);
    (connects > 0 ? new_connections_ : reused_).fetch_add(1, std::memory_order_relaxed);

    if (t.result != CURLE_OK) {
        std::string what = t.error[0] ? t.error : curl_easy_strerror(t.result);
        switch (t.result) {
            case CURLE_WRITE_ERROR:
                if (t.too_large) {
                    co_return Error::with_detail(Errc::invalid_argument, "client: response body larger than " +
                                                                             std::to_string(t.limit) + " bytes");
                }
                break;
            case CURLE_OPERATION_TIMEDOUT:
                co_return Error::with_detail(Errc::timeout, "client: " + what);
            case CURLE_COULDNT_CONNECT:
            case CURLE_COULDNT_RESOLVE_HOST:
            case CURLE_SEND_ERROR:
            case CURLE_RECV_ERROR:
            case CURLE_GOT_NOTHING:
            case CURLE_PARTIAL_FILE:
                co_return Error::with_detail(Errc::unavailable, "client: " + what);
            default:
                break;
        }
        co_return Error::with_detail(Errc::internal, "client: " + what);
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    t.response.status = static_cast<int>(status);
    co_return std::move(t.response);
}

Task<Result<ClientResponse>> Client::send(ClientRequest request) {
    const std::string& m = request.method;
    bool idempotent =
        request.idempotent.value_or(m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS");
    thread_local std::mt19937_64 rng{std::random_device{}()};
    for (int attempt = 0;; ++attempt) {
        Result<ClientResponse> r = co_await this->attempt(request);
        bool retryable = r ? (r->status == 502 || r->status == 503 || r->status == 504)
                           : (r.error().code() == Errc::unavailable || r.error().code() == Errc::timeout);
        if (!retryable || !idempotent || attempt >= options_.max_retries) {
            if (!r) {
                failures_.fetch_add(1, std::memory_order_relaxed);
            }
            co_return r;
        }
        retries_.fetch_add(1, std::memory_order_relaxed);
        // Exponential back-off with full jitter: a random wait up to base * 2^attempt (capped).
        Duration cap = std::min(options_.retry_max, options_.retry_base * (1 << std::min(attempt, 20)));
        std::uniform_int_distribution<Duration::rep> pick(0, cap.count());
        co_await keel::sleep_for(Duration(pick(rng)));
    }
}

}  // namespace keel::client
