#include <keel/observe/http_metrics.hpp>

#include <keel/core/loop.hpp>
#include <keel/http/method.hpp>

#include <unordered_map>

namespace keel::observe {
namespace {

struct Families {
    metrics::Family<metrics::Counter>& requests;
    metrics::Family<metrics::Histogram>& duration;
    metrics::Gauge& in_flight;
    // by protocol: HTTP/1.0, HTTP/1.1, HTTP/2 (three series, made up front)
    metrics::Counter* by_protocol[3];
};

struct Started {
    TimePoint at;
};

std::string_view method_label(http::Request& req) {
    return req.method() == http::Method::other ? std::string_view("OTHER") : req.method_name();
}

constexpr std::string_view kClasses[] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};

std::string_view class_label(int status) {
    int code_class = status / 100;
    return code_class >= 1 && code_class <= 5 ? kClasses[code_class] : kClasses[0];
}

metrics::Family<metrics::Counter>& requests_family(metrics::Registry& registry) {
    return registry.counter("keel_http_requests_total",
                            "HTTP requests answered, by method, route template and status class.",
                            {"method", "route", "code"});
}

/// Series are looked up under the family's lock once per (route, method, class) per thread,
/// then found in this thread's cache. Route templates live as long as the router, so their
/// address identifies them; the text is compared too, so a reused address cannot mislead.
struct Key {
    const void* families;
    const char* route;
    std::size_t route_size;
    http::Method method;
    int code_class;
    bool operator==(const Key& o) const noexcept {
        return families == o.families && route == o.route && route_size == o.route_size && method == o.method &&
               code_class == o.code_class;
    }
};
struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
        return std::hash<const void*>{}(k.route) ^ (k.route_size * 31) ^ (static_cast<std::size_t>(k.method) << 8) ^
               (static_cast<std::size_t>(k.code_class) << 16) ^ std::hash<const void*>{}(k.families);
    }
};
struct Series {
    std::string route;
    metrics::Counter* requests;
    metrics::Histogram* duration;
};

void record(Families& f, http::Request& req, int status, double seconds) {
    thread_local std::unordered_map<Key, Series, KeyHash> cache;
    std::string_view route = req.route();
    int code_class = status / 100;
    Key key{&f, route.data(), route.size(), req.method(), code_class};
    auto it = cache.find(key);
    if (it == cache.end() || it->second.route != route) {
        std::string_view cls = class_label(status);
        std::string_view method = method_label(req);
        Series s{std::string(route), &f.requests.with({method, route, cls}), &f.duration.with({method, route})};
        it = cache.insert_or_assign(key, std::move(s)).first;
    }
    it->second.requests->inc();
    it->second.duration->observe(seconds);
    f.by_protocol[req.version_major() == 2 ? 2 : req.version_minor() == 0 ? 0 : 1]->inc();
}

}  // namespace

http::Middleware http_metrics(metrics::Registry& registry) {
    auto families = std::make_shared<Families>(
        Families{requests_family(registry),
                 registry.histogram("keel_http_request_duration_seconds",
                                    "Time from the request's arrival at the handler chain to its response, by route.",
                                    {"method", "route"}, metrics::exponential_buckets(0.0001, 2.5, 12)),
                 registry.gauge("keel_http_requests_in_flight", "Requests being handled now.").get(),
                 {}});
    auto& by_protocol =
        registry.counter("keel_http_protocol_requests_total",
                         "HTTP requests answered, by protocol (HTTP/1.0, HTTP/1.1, HTTP/2).", {"protocol"});
    families->by_protocol[0] = &by_protocol.with({"HTTP/1.0"});
    families->by_protocol[1] = &by_protocol.with({"HTTP/1.1"});
    families->by_protocol[2] = &by_protocol.with({"HTTP/2"});
    return [families](http::Handler next) {
        return http::wrap(
            std::move(next),
            [families](http::Request& req) -> std::optional<http::Response> {
                families->in_flight.inc();
                req.context().set(Started{Clock::now()});
                return std::nullopt;
            },
            [families](http::Request& req, http::Response& res) {
                families->in_flight.dec();
                const Started* s = req.context().get<Started>();
                double seconds = s ? std::chrono::duration<double>(Clock::now() - s->at).count() : 0.0;
                record(*families, req, res.status(), seconds);
            });
    };
}

std::function<void(const server::ServerAnswer&)> count_server_answers(metrics::Registry& registry) {
    metrics::Family<metrics::Counter>* requests = &requests_family(registry);
    // Error answers only: the series lookup (under the family's lock) is not on a hot path.
    return [requests](const server::ServerAnswer& a) {
        std::string_view method = a.method;
        if (!method.empty() && http::method_from_string(method) == http::Method::other) {
            method = "OTHER";
        }
        requests->with({method, "", class_label(a.status)}).inc();
    };
}

}  // namespace keel::observe
