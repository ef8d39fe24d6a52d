#include <keel/observe/debug.hpp>

#include <keel/core/sleep.hpp>
#include <keel/http/problem.hpp>
#include <keel/http/query.hpp>

#include <gperftools/profiler.h>
#ifdef KEEL_WITH_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace keel::observe {
namespace {

std::atomic<bool> g_profiling{false};

// Runs fn with fd 2 pointed at a pipe and returns what was written there. gperftools prints
// its statistics ("PROFILE: interrupts/evictions/bytes = ...") to stderr when a profile
// stops; captured, they become a field of a JSON log line instead of a stray plain-text line
// between them (keel's logger writes to a descriptor of its own).
template <class F>
std::string capture_stderr(F fn) {
    int pipe_fds[2];
    int saved = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (saved < 0 || ::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        if (saved >= 0) {
            ::close(saved);
        }
        fn();
        return {};
    }
    std::fflush(stderr);
    ::dup2(pipe_fds[1], 2);
    fn();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(pipe_fds[1]);
    std::string said;
    char buf[4096];
    for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) {
        said.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipe_fds[0]);
    while (!said.empty() && (said.back() == '\n' || said.back() == '\r')) {
        said.pop_back();
    }
    return said;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

constexpr std::string_view kIndex = R"(<!doctype html>
<title>keel debug</title>
<h1>keel debug endpoints</h1>
<ul>
<li><a href="/debug/pprof/profile?seconds=30">/debug/pprof/profile?seconds=N</a>: CPU profile (gperftools), read it with
<code>google-pprof --text BINARY profile.prof</code> or <code>google-pprof --web</code>
<li><a href="/debug/pprof/heap">/debug/pprof/heap</a>: heap profile (needs a tcmalloc build)
<li><a href="/debug/vars">/debug/vars</a>: runtime state as JSON
<li><a href="/metrics">/metrics</a>: Prometheus metrics
<li><a href="/readyz?verbose">/readyz?verbose</a>, <a href="/livez">/livez</a>: health
</ul>
)";

Task<http::Response> cpu_profile(PprofOptions options, http::Request& req) {
    long seconds = 30;
    if (auto text = http::query_param(req.query(), "seconds")) {
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
        long max = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(options.max_profile).count());
        if (text->empty() || ec != std::errc() || end != text->data() + text->size() || seconds < 1 || seconds > max) {
            co_return http::problem(400, "seconds must be an integer from 1 to " + std::to_string(max), req.path());
        }
    }
    if (g_profiling.exchange(true)) {
        co_return http::problem(409, "a CPU profile is already being taken; try again when it is done", req.path());
    }
    static std::atomic<int> n{0};
    std::string path = "/tmp/keel-cpu-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".prof";
    ProfilerOptions po{};
    if (!ProfilerStartWithOptions(path.c_str(), &po)) {
        g_profiling = false;
        co_return http::problem(500, "the CPU profiler could not start", req.path());
    }
    bool complete = co_await keel::sleep_for(std::chrono::seconds(seconds), req.stop_token());
    std::string said = capture_stderr([] { ProfilerStop(); });
    if (options.on_profiler_output && !said.empty()) {
        options.on_profiler_output(said);
    }
    g_profiling = false;
    std::string data = read_file(path);
    std::remove(path.c_str());
    if (!complete) {
        co_return http::problem(503, "the request was cancelled before the profile was complete", req.path());
    }
    http::Response r(200);
    r.header("Content-Type", "application/octet-stream");
    r.header("Content-Disposition", "attachment; filename=\"cpu.prof\"");
    r.body_buffer() = std::move(data);
    co_return r;
}

http::Response heap_profile(http::Request& req) {
#ifdef KEEL_WITH_TCMALLOC
    std::string sample;
    MallocExtension::instance()->GetHeapSample(&sample);
    if (sample.empty()) {
        return http::problem(501,
                             "tcmalloc is linked but heap sampling is off: start the process with "
                             "TCMALLOC_SAMPLE_PARAMETER=524288 in its environment",
                             req.path());
    }
    http::Response r(200);
    r.header("Content-Type", "application/octet-stream");
    r.header("Content-Disposition", "attachment; filename=\"heap.prof\"");
    r.body_buffer() = std::move(sample);
    return r;
#else
    return http::problem(501,
                         "heap profiles need tcmalloc: this binary uses glibc malloc (rebuild with "
                         "cmake -DKEEL_TCMALLOC=ON); CPU profiles work without it",
                         req.path());
#endif
}

}  // namespace

bool heap_profiles_available() noexcept {
#ifdef KEEL_WITH_TCMALLOC
    return true;
#else
    return false;
#endif
}

std::vector<DebugRoute> pprof_routes(PprofOptions options) {
    std::vector<DebugRoute> routes;
    routes.push_back({"/debug/pprof/", [](http::Request&) {
                          http::Response res(200);
                          res.header("Content-Type", "text/html; charset=utf-8");
                          if (g_profiling.load()) {  // so an operator (or a test) sees why a profile gets 409
                              res.body(std::string(kIndex) + "<p>A CPU profile is being taken now.</p>\n");
                          } else {
                              res.static_body(kIndex);
                          }
                          return res;
                      }});
    routes.push_back({"/debug/pprof/profile", [options](http::Request& req) { return cpu_profile(options, req); }});
    routes.push_back({"/debug/pprof/heap", [](http::Request& req) { return heap_profile(req); }});
    return routes;
}

void Vars::add(std::string name, Section section) {
    std::lock_guard lock(*mu_);
    sections_->push_back({std::move(name), std::move(section)});
}

std::string Vars::render() const {
    std::string out;
    json::Writer w(out);
    w.begin_object();
    std::lock_guard lock(*mu_);
    for (const auto& s : *sections_) {
        w.key(s.name);
        s.section(w);
    }
    w.end_object();
    return out;
}

http::Handler Vars::handler() const {
    Vars self = *this;  // shares the sections
    return [self](http::Request&) {
        http::Response r(200);
        r.header("Content-Type", "application/json");
        r.body_buffer() = self.render();
        return r;
    };
}

}  // namespace keel::observe
