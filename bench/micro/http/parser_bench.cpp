// Micro-benchmarks for keel's HTTP/1.1 parser: ns per typical request and MB/s.
#include <keel/http/chunked.hpp>
#include <keel/http/parser.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

// What a browser-ish client sends (about 500 bytes), and what wrk sends.
const std::string kTypical =
    "GET /v1/links/abc123?expand=stats HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"
    "Accept: application/json, text/plain, */*\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Authorization: Bearer lk_live_3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c\r\n"
    "X-Request-ID: 7f3c2a1e-9b8d-4c6e-a5f4-3e2d1c0b9a87\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=abcdef0123456789; theme=dark\r\n"
    "\r\n";
const std::string kMinimal = "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

void parse(benchmark::State& state, const std::string& req) {
    std::vector<keel::http::Header> headers;
    headers.reserve(32);
    keel::http::RequestHead head;
    head.headers = &headers;
    keel::http::ParserLimits limits;
    for (auto _ : state) {
        auto r = keel::http::parse_request_head(req.data(), req.size(), head, limits);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(head);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * req.size()));
    state.SetItemsProcessed(state.iterations());
}

void BM_ParseTypicalRequest(benchmark::State& state) {
    parse(state, kTypical);
}
void BM_ParseMinimalRequest(benchmark::State& state) {
    parse(state, kMinimal);
}

void BM_ParsePipelined16(benchmark::State& state) {
    std::string batch;
    for (int i = 0; i < 16; ++i) {
        batch += kMinimal;
    }
    std::vector<keel::http::Header> headers;
    keel::http::RequestHead head;
    head.headers = &headers;
    for (auto _ : state) {
        std::size_t off = 0;
        while (off < batch.size()) {
            auto r = keel::http::parse_request_head(batch.data() + off, batch.size() - off, head, {});
            off += r.consumed;
        }
        benchmark::DoNotOptimize(off);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch.size()));
    state.SetItemsProcessed(state.iterations() * 16);
}

void BM_DecodeChunked(benchmark::State& state) {
    std::string enc;
    for (int i = 0; i < 64; ++i) {
        enc += "400\r\n" + std::string(1024, 'x') + "\r\n";
    }
    enc += "0\r\n\r\n";
    std::string buf;
    for (auto _ : state) {
        buf = enc;
        keel::http::ChunkedDecoder d;
        auto r = d.decode(buf.data(), buf.size(), nullptr);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * enc.size()));
}

}  // namespace

BENCHMARK(BM_ParseTypicalRequest);
BENCHMARK(BM_ParseMinimalRequest);
BENCHMARK(BM_ParsePipelined16);
BENCHMARK(BM_DecodeChunked);
BENCHMARK_MAIN();
