#pragma once
// A small dispatcher used by the server tests: one path per behaviour under test.

#include <keel/core/offload.hpp>
#include <keel/core/sleep.hpp>
#include <keel/http/handler.hpp>
#include <keel/http/problem.hpp>

#include <atomic>
#include <charconv>
#include <stdexcept>
#include <string>

namespace keel::test {

struct Observed {
    std::atomic<int> started{0};  ///< /slow handlers that began: what tests wait for
    std::atomic<int> cancelled{0};
    std::atomic<int> completed{0};
};

inline int query_int(std::string_view query, std::string_view key, int fallback) {
    std::size_t pos = query.find(std::string(key) + "=");
    if (pos == std::string_view::npos) {
        return fallback;
    }
    int v = fallback;
    std::string_view rest = query.substr(pos + key.size() + 1);
    std::from_chars(rest.data(), rest.data() + rest.size(), v);
    return v;
}

inline http::Handler make_test_handler(Observed& seen) {
    return [&seen](http::Request& req) -> Task<http::Response> {
        std::string_view path = req.path();
        if (path == "/hello") {
            co_return http::Response::text("hello");
        }
        if (path.substr(0, 6) == "/path/") {
            co_return http::Response::text(std::string(path));
        }
        if (path == "/echo") {
            http::Response r = http::Response::text(req.body());
            std::string trailers;
            for (const auto& t : req.trailers()) {
                trailers += std::string(t.name) + "=" + std::string(t.value) + ";";
            }
            r.header("X-Trailers", trailers);
            co_return r;
        }
        if (path == "/slow") {
            seen.started.fetch_add(1);
            bool full =
                co_await sleep_for(std::chrono::milliseconds(query_int(req.query(), "ms", 100)), req.stop_token());
            if (!full) {
                seen.cancelled.fetch_add(1);
                co_return http::Response::text("cancelled", 500);
            }
            seen.completed.fetch_add(1);
            co_return http::Response::text("slept");
        }
        if (path == "/throw") {
            throw std::runtime_error("secret internal detail");
        }
        if (path == "/big") {
            http::Response r(200);
            r.body_buffer().assign(static_cast<std::size_t>(query_int(req.query(), "n", 1000)), 'x');
            co_return r;
        }
        if (path == "/stream") {
            co_return http::Response::stream("text/plain", [](http::BodyWriter& w) -> Task<void> {
                for (const char* part : {"alpha,", "beta,", "gamma"}) {
                    if (!co_await w.write(part)) {
                        co_return;
                    }
                    co_await sleep_for(std::chrono::milliseconds(5));
                }
            });
        }
        if (path == "/offload") {
            auto r = co_await offload([] { return std::string("computed off the loop"); });
            if (!r) {
                co_return http::problem(503, "worker pool full");
            }
            co_return http::Response::text(*r);
        }
        co_return http::problem(404, "no such test route", req.path());
    };
}

}  // namespace keel::test
