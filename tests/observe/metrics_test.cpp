// keel::metrics: values under concurrent recording, and the exact text exposition format.
#include <keel/observe/metrics.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace {

using namespace keel::metrics;

TEST(Metrics, CountersAndGaugesSumTheirShardsAcrossThreads) {
    Registry reg;
    Counter& c = reg.counter("t_total", "t").get();
    Gauge& g = reg.gauge("t_in_flight", "g").get();
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 100000; ++i) {
                c.inc();
                g.inc();
                if (i % 2 == 0) {
                    g.dec();
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(c.value(), 800000u);
    EXPECT_EQ(g.value(), 400000);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    Histogram h({0.1, 1, 10});
    for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 30.0}) {
        h.observe(v);
    }
    auto s = h.snapshot();
    EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 4, 6}));  // ≤0.1, ≤1, ≤10, +Inf
    EXPECT_EQ(s.count, 6u);
    EXPECT_DOUBLE_EQ(s.sum, 52.65);
    EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
    EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
}

TEST(Metrics, ScrapeIsTheTextFormat) {
    Registry reg;
    auto& req = reg.counter("app_requests_total", "Requests.\nBy route.", {"route", "code"});
    req.with({"/a", "2xx"}).inc(3);
    req.with({"/b \"quoted\" \\ back\nslash", "5xx"}).inc();
    auto& lat = reg.histogram("app_latency_seconds", "Latency.", {"route"}, {0.5, 1});
    lat.with({"/a"}).observe(0.25);
    lat.with({"/a"}).observe(2);
    reg.gauge("app_up", "Up.").get().inc();
    reg.add_collector([](std::vector<SampledFamily>& out) {
        out.push_back({"app_ratio", "A ratio.", "gauge", {{{{"kind", "x"}}, 0.125}, {{}, INFINITY}}});
    });
    EXPECT_EQ(reg.scrape(),
              "# HELP app_latency_seconds Latency.\n"
              "# TYPE app_latency_seconds histogram\n"
              "app_latency_seconds_bucket{route=\"/a\",le=\"0.5\"} 1\n"
              "app_latency_seconds_bucket{route=\"/a\",le=\"1\"} 1\n"
              "app_latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2\n"
              "app_latency_seconds_sum{route=\"/a\"} 2.25\n"
              "app_latency_seconds_count{route=\"/a\"} 2\n"
              "# HELP app_ratio A ratio.\n"
              "# TYPE app_ratio gauge\n"
              "app_ratio{kind=\"x\"} 0.125\n"
              "app_ratio +Inf\n"
              "# HELP app_requests_total Requests.\\nBy route.\n"
              "# TYPE app_requests_total counter\n"
              "app_requests_total{route=\"/a\",code=\"2xx\"} 3\n"
              "app_requests_total{route=\"/b \\\"quoted\\\" \\\\ back\\nslash\",code=\"5xx\"} 1\n"
              "# HELP app_up Up.\n"
              "# TYPE app_up gauge\n"
              "app_up 1\n");
}

TEST(Metrics, RegistrationMistakesThrow) {
    Registry reg;
    EXPECT_THROW(reg.counter("bad-name", "x"), std::invalid_argument);
    EXPECT_THROW(reg.counter("ok_total", "x", {"bad-label"}), std::invalid_argument);
    EXPECT_THROW(reg.histogram("h", "x", {"le"}), std::invalid_argument);
    auto& a = reg.counter("same_total", "x", {"l"});
    EXPECT_EQ(&a, &reg.counter("same_total", "x", {"l"}));  // idempotent
    EXPECT_THROW(reg.counter("same_total", "x", {"other"}), std::invalid_argument);
    EXPECT_THROW(reg.gauge("same_total", "x"), std::invalid_argument);
    EXPECT_THROW(a.with({"1", "2"}), std::invalid_argument);
}

}  // namespace
