#pragma once
/// keel::metrics: counters, gauges and histograms with labels, exposed in the Prometheus text
/// format (0.0.4).
///
///     metrics::Registry reg;
///     auto& created = reg.counter("linkd_links_created_total", "Links created.");
///     auto& requests = reg.counter("keel_http_requests_total", "Requests.", {"method", "route", "code"});
///     created.get().inc();
///     requests.with({"GET", "/v1/links/{slug}", "2xx"}).inc();   // look the series up once, keep it
///     reg.histogram("x_duration_seconds", "…", {}, metrics::default_buckets()).get().observe(0.003);
///     std::string body = reg.scrape();
///
/// Recording takes no lock: every series keeps one slot per thread shard (cache-line padded),
/// written with relaxed atomics by the threads that hash to it; scrape() sums the shards.
/// with() takes the family's lock (to find or create the series): keep the reference it
/// returns, series live as long as the registry.
///
/// Values sampled at scrape time (pool statistics, process RSS, loop lag) are collectors:
/// add_collector(fn) where fn appends samples; they are exposed with the same format rules.

#include <keel/core/collector.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace keel::metrics {

namespace detail {
inline constexpr std::size_t kShards = 16;
/// This thread's shard (threads are numbered on first use).
std::size_t shard_index() noexcept;

struct alignas(64) PaddedCounter {
    std::atomic<std::uint64_t> v{0};
};
struct alignas(64) PaddedGauge {
    std::atomic<std::int64_t> v{0};
};
}  // namespace detail

/// A monotonically increasing count.
class Counter {
  public:
    void inc(std::uint64_t n = 1) noexcept { shards_[detail::shard_index()].v.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept;

  private:
    std::array<detail::PaddedCounter, detail::kShards> shards_;
};

/// A value that goes up and down by increments (in-flight requests, open things). For values
/// that are read from somewhere else at scrape time, use a collector.
class Gauge {
  public:
    void add(std::int64_t n) noexcept { shards_[detail::shard_index()].v.fetch_add(n, std::memory_order_relaxed); }
    void inc() noexcept { add(1); }
    void dec() noexcept { add(-1); }
    std::int64_t value() const noexcept;

  private:
    std::array<detail::PaddedGauge, detail::kShards> shards_;
};

/// Observations counted into buckets with upper bounds `le`, plus their sum and count.
class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double v) noexcept;

    struct Snapshot {
        std::vector<std::uint64_t> cumulative = {};  ///< one per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot snapshot() const;
    const std::vector<double>& bounds() const noexcept { return bounds_; }

  private:
    struct alignas(64) Shard {
        std::unique_ptr<std::atomic<std::uint64_t>[]> buckets;  // bounds + 1 (+Inf)
        std::atomic<double> sum{0};
    };
    std::vector<double> bounds_;
    std::array<Shard, detail::kShards> shards_;
};

/// 5 ms … 10 s, the Prometheus clients' defaults (seconds).
std::vector<double> default_buckets();
/// `count` bounds: start, start·factor, start·factor², …
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

/// All series of one metric name, one per combination of label values.
template <class M>
class Family {
  public:
    /// The series for these label values (in the order of the family's label names).
    M& with(std::initializer_list<std::string_view> values) { return with(std::vector<std::string_view>(values)); }
    M& with(const std::vector<std::string_view>& values);
    /// The series of a family without labels.
    M& get() { return with({}); }

    const std::string& name() const noexcept { return name_; }

  private:
    friend class Registry;
    Family(std::string name, std::string help, std::vector<std::string> labels, std::vector<double> bounds = {})
        : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)), bounds_(std::move(bounds)) {}
    std::string name_;
    std::string help_;
    std::vector<std::string> labels_;
    std::vector<double> bounds_;  // histograms only
    mutable std::mutex mu_;
    std::map<std::vector<std::string>, std::unique_ptr<M>> series_;
};

class Registry {
  public:
    Registry() = default;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    /// Registering a name twice with the same type and labels returns the same family;
    /// anything else (bad name, clash) throws std::invalid_argument.
    Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels = {});
    Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
    Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels = {},
                                 std::vector<double> bounds = default_buckets());
    void add_collector(Collector c);

    /// Every metric in the text exposition format 0.0.4, families sorted by name.
    std::string scrape() const;

  private:
    struct Entry {
        std::string type = {};
        std::unique_ptr<Family<Counter>> counter = {};
        std::unique_ptr<Family<Gauge>> gauge = {};
        std::unique_ptr<Family<Histogram>> histogram = {};
    };
    Entry& entry(const std::string& name, const std::string& type, const std::vector<std::string>& labels);
    /// The family in `slot` of name's entry, made at the first registration.
    template <class M>
    Family<M>& install(std::unique_ptr<Family<M>> Entry::*slot, const char* type, std::string name, std::string help,
                       std::vector<std::string> labels, std::vector<double> bounds = {});

    mutable std::mutex mu_;
    std::map<std::string, Entry> entries_;
    std::vector<Collector> collectors_;
};

/// The content type of scrape().
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value for the text format (backslash, double quote, newline).
void append_label_value(std::string& out, std::string_view v);
/// Formats a sample value: integers without a fraction, +Inf, -Inf, NaN.
void append_value(std::string& out, double v);

template <class M>
M& Family<M>::with(const std::vector<std::string_view>& values) {
    if (values.size() != labels_.size()) {
        throw std::invalid_argument("keel: metrics: " + name_ + " takes " + std::to_string(labels_.size()) +
                                    " label values, got " + std::to_string(values.size()));
    }
    std::vector<std::string> key(values.begin(), values.end());
    std::lock_guard lock(mu_);
    auto it = series_.find(key);
    if (it == series_.end()) {
        std::unique_ptr<M> m;
        if constexpr (std::is_same_v<M, Histogram>) {
            m = std::make_unique<Histogram>(bounds_);
        } else {
            m = std::make_unique<M>();
        }
        it = series_.emplace(std::move(key), std::move(m)).first;
    }
    return *it->second;
}

}  // namespace keel::metrics
