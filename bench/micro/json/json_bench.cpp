// JSON micro-benchmarks: writing small objects (target ≥ 1 GB/s) and bind + validate (MB/s).
#include <keel/json/parse.hpp>

#include <benchmark/benchmark.h>

namespace jb {
struct Link {
    std::string url;
    std::optional<std::string> slug;
    std::int64_t clicks = 0;
    bool permanent = false;
    std::vector<std::string> tags;
};
KEEL_JSON(Link, url, slug, clicks, permanent, tags)

void keel_validate(const Link& l, keel::json::Validator& v) {
    v.length("/url", l.url, 1, 2048);
    v.range("/clicks", l.clicks, std::int64_t{0}, std::int64_t{1} << 40);
}
}  // namespace jb

namespace {

const jb::Link kLink{"https://example.com/some/long/path?utm_source=newsletter",
                     std::string("spring-sale"),
                     123456,
                     false,
                     {"marketing", "q2"}};

void BM_JsonWriteSmallObject(benchmark::State& state) {
    std::string out;
    out.reserve(256);
    std::size_t bytes = 0;
    for (auto _ : state) {
        out.clear();
        keel::json::write(out, kLink);
        bytes += out.size();
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void BM_JsonWriteHello(benchmark::State& state) {
    std::string out;
    out.reserve(64);
    std::size_t bytes = 0;
    for (auto _ : state) {
        out.clear();
        keel::json::Writer(out).begin_object().key("message").value("Hello, World!").end_object();
        bytes += out.size();
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void BM_JsonBindAndValidate(benchmark::State& state) {
    std::string json;
    keel::json::write(json, kLink);
    for (auto _ : state) {
        jb::Link l;
        keel::json::Errors errors;
        keel::json::parse(json, l, errors);
        benchmark::DoNotOptimize(l);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
}

}  // namespace

BENCHMARK(BM_JsonWriteSmallObject);
BENCHMARK(BM_JsonWriteHello);
BENCHMARK(BM_JsonBindAndValidate);
BENCHMARK_MAIN();
