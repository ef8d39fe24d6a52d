// Router lookup for a 200-route API (ns/op): static, parameter and deep routes.
#include <keel/http/parser.hpp>
#include <keel/router/router.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

keel::http::Handler ok() {
    return [](keel::http::Request&) { return keel::http::Response(204); };
}

keel::http::Handler api_200() {
    keel::router::Router r;
    const char* resources[] = {"users",  "links", "keys", "orgs",   "teams",  "projects", "repos",
                               "issues", "pulls", "tags", "events", "hooks",  "tokens",   "files",
                               "builds", "jobs",  "runs", "logs",   "alerts", "plans"};
    for (const char* res : resources) {  // 20 resources x 10 routes = 200
        std::string base = std::string("/v1/") + res;
        r.get(base, ok());
        r.post(base, ok());
        r.get(base + "/{id}", ok());
        r.patch(base + "/{id}", ok());
        r.del(base + "/{id}", ok());
        r.get(base + "/{id}/stats", ok());
        r.get(base + "/{id}/members", ok());
        r.post(base + "/{id}/members", ok());
        r.get(base + "/{id}/members/{member}", ok());
        r.del(base + "/{id}/members/{member}", ok());
    }
    return r.handler();
}

struct Prepared {
    std::string raw;
    std::vector<keel::http::Header> headers;
    keel::http::RequestHead head;
    keel::http::Request req;
    explicit Prepared(const std::string& method, const std::string& target)
        : raw(method + " " + target + " HTTP/1.1\r\nHost: b\r\n\r\n") {
        head.headers = &headers;
        keel::http::parse_request_head(raw.data(), raw.size(), head, {});
        req.assign(head, {}, nullptr);
    }
};

void lookup(benchmark::State& state, const char* method, const char* target) {
    static keel::http::Handler handler = api_200();
    Prepared p(method, target);
    for (auto _ : state) {
        keel::http::Outcome o = handler.invoke(p.req);
        benchmark::DoNotOptimize(o);
    }
}

void BM_Router200_Static(benchmark::State& s) {
    lookup(s, "GET", "/v1/plans");
}
void BM_Router200_Param(benchmark::State& s) {
    lookup(s, "GET", "/v1/plans/12345");
}
void BM_Router200_Deep(benchmark::State& s) {
    lookup(s, "DELETE", "/v1/plans/12345/members/678");
}
void BM_Router200_NotFound(benchmark::State& s) {
    lookup(s, "GET", "/v1/nothing/here");
}

}  // namespace

BENCHMARK(BM_Router200_Static);
BENCHMARK(BM_Router200_Param);
BENCHMARK(BM_Router200_Deep);
BENCHMARK(BM_Router200_NotFound);
BENCHMARK_MAIN();
