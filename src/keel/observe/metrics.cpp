#include <keel/observe/metrics.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <regex>

namespace keel::metrics {

namespace detail {
std::size_t shard_index() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return index;
}
}  // namespace detail

std::uint64_t Counter::value() const noexcept {
    std::uint64_t n = 0;
    for (const auto& s : shards_) {
        n += s.v.load(std::memory_order_relaxed);
    }
    return n;
}

std::int64_t Gauge::value() const noexcept {
    std::int64_t n = 0;
    for (const auto& s : shards_) {
        n += s.v.load(std::memory_order_relaxed);
    }
    return n;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
        throw std::invalid_argument("keel: metrics: histogram bounds must be strictly increasing");
    }
    for (auto& s : shards_) {
        s.buckets = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
    }
}

void Histogram::observe(double v) noexcept {
    // Few bounds: a linear scan beats a binary search and is branch-predictable.
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) {
        ++i;
    }
    Shard& s = shards_[detail::shard_index()];
    s.buckets[i].fetch_add(1, std::memory_order_relaxed);
    s.sum.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot out;
    out.cumulative.assign(bounds_.size() + 1, 0);
    for (const auto& s : shards_) {
        for (std::size_t i = 0; i <= bounds_.size(); ++i) {
            out.cumulative[i] += s.buckets[i].load(std::memory_order_relaxed);
        }
        out.sum += s.sum.load(std::memory_order_relaxed);
    }
    for (std::size_t i = 1; i < out.cumulative.size(); ++i) {
        out.cumulative[i] += out.cumulative[i - 1];
    }
    out.count = out.cumulative.back();
    return out;
}

std::vector<double> default_buckets() {
    return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
    std::vector<double> b;
    for (std::size_t i = 0; i < count; ++i, start *= factor) {
        b.push_back(start);
    }
    return b;
}

void append_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

void append_value(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
        out += std::to_string(static_cast<std::int64_t>(v));
    } else {
        // The shortest form that reads back exactly; fixed notation where it stays short
        // ("0.0001", not "1e-04"), as bucket bounds read better that way.
        char buf[64];
        double a = std::fabs(v);
        auto fmt = a >= 1e-6 && a < 1e15 ? std::chars_format::fixed : std::chars_format::general;
        auto end = std::to_chars(buf, buf + sizeof buf, v, fmt).ptr;
        out.append(buf, end);
    }
}

namespace {

const std::regex& name_re() {
    static const std::regex re("[a-zA-Z_:][a-zA-Z0-9_:]*");
    return re;
}
const std::regex& label_re() {
    static const std::regex re("[a-zA-Z_][a-zA-Z0-9_]*");
    return re;
}

void append_help(std::string& out, const std::string& name, const std::string& help, std::string_view type) {
    out += "# HELP " + name + " ";
    for (char c : help) {  // HELP escapes backslash and newline only
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    out += "\n# TYPE " + name + " ";
    out += type;
    out += '\n';
}

void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty()) {
        return;
    }
    out += '{';
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) {
            out += ',';
        }
        out += names[i] + "=\"";
        append_label_value(out, values[i]);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!names.empty()) {
            out += ',';
        }
        out += std::string(extra_name) + "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}

}  // namespace

Registry::Entry& Registry::entry(const std::string& name, const std::string& type,
                                 const std::vector<std::string>& labels) {
    if (!std::regex_match(name, name_re())) {
        throw std::invalid_argument("keel: metrics: invalid metric name \"" + name + "\"");
    }
    for (const auto& l : labels) {
        if (!std::regex_match(l, label_re()) || l.rfind("__", 0) == 0 || (type == "histogram" && l == "le")) {
            throw std::invalid_argument("keel: metrics: invalid label name \"" + l + "\" on " + name);
        }
    }
    auto it = entries_.find(name);
    if (it != entries_.end() && it->second.type != type) {
        throw std::invalid_argument("keel: metrics: " + name + " is already registered as a " + it->second.type);
    }
    return entries_[name];
}

template <class M>
Family<M>& Registry::install(std::unique_ptr<Family<M>> Entry::*slot, const char* type, std::string name,
                             std::string help, std::vector<std::string> labels, std::vector<double> bounds) {
    std::lock_guard lock(mu_);
    Entry& e = entry(name, type, labels);
    std::unique_ptr<Family<M>>& family = e.*slot;
    if (!family) {
        e.type = type;
        family.reset(new Family<M>(std::move(name), std::move(help), std::move(labels), std::move(bounds)));
    } else if (family->labels_ != labels) {
        throw std::invalid_argument("keel: metrics: " + name + " is already registered with other labels");
    }
    return *family;
}

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
    return install(&Entry::counter, "counter", std::move(name), std::move(help), std::move(labels));
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
    return install(&Entry::gauge, "gauge", std::move(name), std::move(help), std::move(labels));
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                                       std::vector<double> bounds) {
    Histogram probe(bounds);  // validates the bounds now, not at the first observation
    return install(&Entry::histogram, "histogram", std::move(name), std::move(help), std::move(labels),
                   std::move(bounds));
}

void Registry::add_collector(Collector c) {
    std::lock_guard lock(mu_);
    collectors_.push_back(std::move(c));
}

std::string Registry::scrape() const {
    // Render each family to its own text, keyed by name, so that registered and collected
    // families come out sorted together.
    std::map<std::string, std::string> blocks;
    // Counters and gauges: one value per series.
    auto render_values = [](std::string& out, const std::string& name, const auto& family, const char* type) {
        std::lock_guard fl(family.mu_);
        append_help(out, name, family.help_, type);
        for (const auto& [values, series] : family.series_) {
            out += name;
            append_labels(out, family.labels_, values);
            out += ' ' + std::to_string(series->value()) + '\n';
        }
    };
    std::vector<Collector> collectors;
    {
        std::lock_guard lock(mu_);
        collectors = collectors_;
        for (const auto& [name, e] : entries_) {
            std::string& out = blocks[name];
            if (e.counter) {
                render_values(out, name, *e.counter, "counter");
            } else if (e.gauge) {
                render_values(out, name, *e.gauge, "gauge");
            } else if (e.histogram) {
                std::lock_guard fl(e.histogram->mu_);
                append_help(out, name, e.histogram->help_, "histogram");
                for (const auto& [values, h] : e.histogram->series_) {
                    Histogram::Snapshot s = h->snapshot();
                    const auto& bounds = h->bounds();
                    for (std::size_t i = 0; i <= bounds.size(); ++i) {
                        std::string le;
                        append_value(le, i < bounds.size() ? bounds[i] : INFINITY);
                        out += name + "_bucket";
                        append_labels(out, e.histogram->labels_, values, "le", le);
                        out += ' ' + std::to_string(s.cumulative[i]) + '\n';
                    }
                    out += name + "_sum";
                    append_labels(out, e.histogram->labels_, values);
                    out += ' ';
                    append_value(out, s.sum);
                    out += '\n' + name + "_count";
                    append_labels(out, e.histogram->labels_, values);
                    out += ' ' + std::to_string(s.count) + '\n';
                }
            }
        }
    }
    std::vector<SampledFamily> sampled;
    for (const auto& c : collectors) {
        c(sampled);
    }
    for (const SampledFamily& f : sampled) {
        std::string& out = blocks[f.name];
        if (out.empty()) {
            append_help(out, f.name, f.help, f.type);
        }
        for (const Sample& s : f.samples) {
            out += f.name;
            if (!s.labels.empty()) {
                out += '{';
                for (std::size_t i = 0; i < s.labels.size(); ++i) {
                    out += (i ? "," : "") + s.labels[i].first + "=\"";
                    append_label_value(out, s.labels[i].second);
                    out += '"';
                }
                out += '}';
            }
            out += ' ';
            append_value(out, s.value);
            out += '\n';
        }
    }
    std::string text;
    for (const auto& [name, block] : blocks) {
        text += block;
    }
    return text;
}

}  // namespace keel::metrics
