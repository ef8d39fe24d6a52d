#pragma once
/// keel::metrics::Collector: values sampled at scrape time, pushed into a metrics registry by
/// the modules that own them (database pools, the worker pool, the server's loops) without
/// those modules depending on the registry. keel::metrics::Registry::add_collector takes one.
///
///     registry.add_collector(db::pool_collector([&] { return pools(); }));

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace keel::metrics {

/// One value with its labels.
struct Sample {
    std::vector<std::pair<std::string, std::string>> labels = {};
    double value = 0;
};

/// A metric's samples, with the name, help and type the exposition format prints.
struct SampledFamily {
    std::string name = {};
    std::string help = {};
    std::string type = {};  ///< "gauge" or "counter"
    std::vector<Sample> samples = {};
};

/// Appends the families it samples; called by every scrape, from the scraping thread.
using Collector = std::function<void(std::vector<SampledFamily>&)>;

}  // namespace keel::metrics
