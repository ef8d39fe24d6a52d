#pragma once
/// keel's debug endpoints, for an admin listener (never the public port):
///
///   GET /debug/pprof/                      an index of what follows
///   GET /debug/pprof/profile?seconds=N     a CPU profile of the whole process taken with
///                                          gperftools' profiler for N seconds (default 30,
///                                          at most max_profile), in gperftools' pprof format:
///                                          google-pprof --text <binary> profile.prof
///                                          One at a time: 409 while another is running.
///   GET /debug/pprof/heap                  a heap profile (sampled) when the binary is linked
///                                          with tcmalloc (-DKEEL_TCMALLOC=ON); otherwise 501
///                                          saying so
///   GET /debug/vars                        a JSON snapshot of runtime state: the sections
///                                          components register with Vars::add

#include <keel/core/loop.hpp>
#include <keel/http/handler.hpp>
#include <keel/json/writer.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace keel::observe {

struct PprofOptions {
    Duration max_profile = std::chrono::seconds(60);
    /// What the profiler prints when a profile stops (its sample statistics), captured from
    /// stderr so it does not break a JSON log; keel::App logs it as a field. Empty: dropped.
    std::function<void(std::string_view)> on_profiler_output = {};
};

/// A GET endpoint for the caller's router (observe does not depend on the router).
struct DebugRoute {
    std::string_view path = {};
    http::Handler handler = {};
};

/// /debug/pprof/, /debug/pprof/profile and /debug/pprof/heap: `router.get(r.path, r.handler)`
/// for each.
std::vector<DebugRoute> pprof_routes(PprofOptions options = {});

/// True when this binary was linked with tcmalloc (heap profiles available).
bool heap_profiles_available() noexcept;

/// Sections of /debug/vars: add("pools", [&](json::Writer& w) { w.begin_object()...; }).
class Vars {
  public:
    using Section = std::function<void(json::Writer&)>;
    void add(std::string name, Section section);
    http::Handler handler() const;
    /// The whole document (for tests and logs).
    std::string render() const;

  private:
    struct Named {
        std::string name = {};
        Section section = {};
    };
    std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
    std::shared_ptr<std::vector<Named>> sections_ = std::make_shared<std::vector<Named>>();
};

/// Build facts: version, git commit, compiler, flags, build type (generated at build time).
struct BuildInfo {
    std::string_view version = {};
    std::string_view git_commit = {};
    std::string_view compiler = {};
    std::string_view flags = {};
    std::string_view build_type = {};
};
BuildInfo build_info() noexcept;

}  // namespace keel::observe
