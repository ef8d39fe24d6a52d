#include <keel/core/sleep.hpp>
#include <keel/http/problem.hpp>
#include <keel/middleware/throttle.hpp>

#include <atomic>
#include <memory>

namespace keel::mw {
namespace {

struct State {
    ThrottleOptions options;
    std::atomic<int> in_flight{0};
    std::atomic<int> waiting{0};

    bool try_acquire() {
        int n = in_flight.load(std::memory_order_relaxed);
        while (n < options.limit) {
            if (in_flight.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) {
                return true;
            }
        }
        return false;
    }
    void release() { in_flight.fetch_sub(1, std::memory_order_acq_rel); }
};

http::Response busy(const State& s, http::Request& req) {
    http::Response r = http::problem(503, "too many requests in progress, retry later", req.path());
    r.header("Retry-After", std::to_string(s.options.retry_after.count()));
    return r;
}

struct Slot {
    std::shared_ptr<State> state;
    ~Slot() {
        if (state) {
            state->release();
        }
    }
};

Task<http::Response> run_holding(std::shared_ptr<State> state, Task<http::Response> inner) {
    Slot slot{std::move(state)};
    co_return co_await std::move(inner);
}

Task<http::Response> wait_then_run(std::shared_ptr<State> state, const http::Handler& next, http::Request& req) {
    auto deadline = Clock::now() + state->options.backlog_timeout;
    bool acquired = false;
    while (!(acquired = state->try_acquire()) && Clock::now() < deadline && !req.stop_token().stop_requested()) {
        co_await sleep_for(std::chrono::milliseconds(1), req.stop_token());
    }
    state->waiting.fetch_sub(1, std::memory_order_acq_rel);
    if (!acquired) {
        co_return busy(*state, req);
    }
    Slot slot{state};
    http::Outcome out = next.invoke(req);
    if (out.ready()) {
        co_return std::move(out.response());
    }
    co_return co_await out.take_task();
}

}  // namespace

http::Middleware throttle(ThrottleOptions options) {
    auto state = std::make_shared<State>();
    state->options = options;
    return [state](http::Handler next) -> http::Handler {
        return [state, next = std::move(next)](http::Request& req) -> http::Outcome {
            if (state->try_acquire()) {
                bool released = false;
                try {
                    http::Outcome out = next.invoke(req);
                    if (out.ready()) {
                        state->release();
                        released = true;
                        return out;
                    }
                    return http::Outcome(run_holding(state, out.take_task()));
                } catch (...) {
                    if (!released) {
                        state->release();
                    }
                    throw;
                }
            }
            if (state->waiting.fetch_add(1, std::memory_order_acq_rel) >= state->options.backlog ||
                Loop::current() == nullptr) {
                state->waiting.fetch_sub(1, std::memory_order_acq_rel);
                return busy(*state, req);
            }
            return http::Outcome(wait_then_run(state, next, req));
        };
    };
}

}  // namespace keel::mw
