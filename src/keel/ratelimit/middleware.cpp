#include <keel/ratelimit/middleware.hpp>

#include <keel/http/problem.hpp>
#include <keel/middleware/real_ip.hpp>

namespace keel::ratelimit {
namespace {

void add_headers(http::Response& res, const Decision& d) {
    res.set_header("RateLimit-Limit", std::to_string(d.limit));
    res.set_header("RateLimit-Remaining", std::to_string(d.remaining));
    res.set_header("RateLimit-Reset", std::to_string(header_seconds(d.reset)));
}

http::Response too_many(http::Request& req, const Decision& d, const Limit& limit) {
    std::int64_t retry = std::max<std::int64_t>(1, header_seconds(d.retry_after));
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", limit.rate);
    http::Response res =
        http::problem(429,
                      "rate limit exceeded: " + std::to_string(limit.burst) + " requests at once, then " + rate +
                          " per second; retry in " + std::to_string(retry) + " s",
                      req.path());
    res.header("Retry-After", std::to_string(retry));
    add_headers(res, d);
    return res;
}

}  // namespace

std::int64_t header_seconds(Duration d) noexcept {
    if (d <= Duration::zero()) {
        return 0;
    }
    auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
    return s.count() + (s < d ? 1 : 0);
}

std::string client_ip_key(http::Request& req) {
    return mw::client_ip(req);
}

http::Middleware rate_limit(std::shared_ptr<Limiter> limiter, KeyFn key) {
    auto* local = dynamic_cast<LocalLimiter*>(limiter.get());
    if (local != nullptr) {
        // Inline: the decision goes through the request context to the after step.
        return [limiter, local, key](http::Handler next) {
            return http::wrap(
                std::move(next),
                [limiter, local, key](http::Request& req) -> std::optional<http::Response> {
                    std::string k = key(req);
                    if (k.empty()) {
                        return std::nullopt;
                    }
                    Decision d = local->allow(k);
                    if (!d.allowed) {
                        return too_many(req, d, local->limit());
                    }
                    req.context().set(d);
                    return std::nullopt;
                },
                [](http::Request& req, http::Response& res) {
                    if (const Decision* d = req.context().get<Decision>()) {
                        add_headers(res, *d);
                    }
                });
        };
    }
    return [limiter, key](http::Handler next) -> http::Handler {
        return [limiter, key, next = std::move(next)](http::Request& req) -> Task<http::Response> {
            std::string k = key(req);
            if (k.empty()) {
                co_return co_await next(req);
            }
            Decision d = co_await limiter->check(std::move(k));
            if (!d.allowed) {
                co_return too_many(req, d, limiter->limit());
            }
            http::Response res = co_await next(req);
            add_headers(res, d);
            co_return res;
        };
    };
}

}  // namespace keel::ratelimit
