#include <keel/observe/runtime_metrics.hpp>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace keel::observe {
namespace {

using metrics::Sample;
using metrics::SampledFamily;

SampledFamily one(std::string name, std::string help, std::string type, double v) {
    return {std::move(name), std::move(help), std::move(type), {Sample{{}, v}}};
}

double boot_time_seconds() {
    std::ifstream in("/proc/stat");
    std::string key;
    double v = 0;
    while (in >> key) {
        if (key == "btime") {
            in >> v;
            return v;
        }
        in.ignore(1 << 20, '\n');
    }
    return 0;
}

int count_fds() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d)) {
            n += e->d_name[0] != '.';
        }
        ::closedir(d);
        --n;  // the directory stream's own fd
    }
    return n;
}

}  // namespace

void add_process_metrics(metrics::Registry& registry) {
    static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    static const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    static const double boot = boot_time_seconds();
    registry.add_collector([](std::vector<SampledFamily>& out) {
        std::ifstream in("/proc/self/stat");
        std::string text((std::istreambuf_iterator<char>(in)), {});
        std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "pid (comm) "
        std::vector<std::string> f;
        for (std::string x; fields >> x;) {
            f.push_back(x);
        }
        // Fields from state (3rd in proc(5)) on: utime 14, stime 15, threads 20, starttime 22,
        // vsize 23, rss 24 → indexes 11, 12, 17, 19, 20, 21 here.
        if (f.size() < 22) {
            return;
        }
        out.push_back(one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter",
                          (std::stod(f[11]) + std::stod(f[12])) / ticks));
        out.push_back(one("process_threads", "Number of OS threads in the process.", "gauge", std::stod(f[17])));
        out.push_back(one("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                          "gauge", boot + std::stod(f[19]) / ticks));
        out.push_back(one("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", std::stod(f[20])));
        out.push_back(
            one("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", std::stod(f[21]) * page));
        out.push_back(one("process_open_fds", "Number of open file descriptors.", "gauge", count_fds()));
        rlimit lim{};
        ::getrlimit(RLIMIT_NOFILE, &lim);
        out.push_back(one("process_max_fds", "Maximum number of open file descriptors.", "gauge",
                          static_cast<double>(lim.rlim_cur)));
    });
}

void add_server_metrics(metrics::Registry& registry, std::function<const server::Server*()> server) {
    registry.add_collector([server = std::move(server)](std::vector<SampledFamily>& out) {
        const server::Server* s = server();
        if (s == nullptr) {
            return;
        }
        SampledFamily open{"keel_connections_open", "Client connections open now, by loop.", "gauge", {}};
        SampledFamily accepted{
            "keel_connections_accepted_total", "Client connections accepted, by loop.", "counter", {}};
        SampledFamily closed{"keel_connections_closed_total", "Client connections closed, by loop.", "counter", {}};
        SampledFamily in{"keel_http_received_bytes_total", "Bytes read from clients, by loop.", "counter", {}};
        SampledFamily sent{"keel_http_sent_bytes_total", "Bytes written to clients, by loop.", "counter", {}};
        SampledFamily lag{"keel_loop_lag_seconds",
                          "How late the loop's periodic 100 ms timer last fired: time the loop was busy.",
                          "gauge",
                          {}};
        SampledFamily exhausted{"keel_accept_fd_exhausted_total",
                                "Times accepting paused because the process had no file descriptor left, by loop.",
                                "counter",
                                {}};
        for (const server::LoopStats& l : s->loop_stats()) {
            std::vector<std::pair<std::string, std::string>> labels{{"loop", std::to_string(l.index)}};
            open.samples.push_back({labels, static_cast<double>(l.connections_open)});
            accepted.samples.push_back({labels, static_cast<double>(l.connections_accepted)});
            closed.samples.push_back({labels, static_cast<double>(l.connections_accepted - l.connections_open)});
            in.samples.push_back({labels, static_cast<double>(l.bytes_in)});
            sent.samples.push_back({labels, static_cast<double>(l.bytes_out)});
            lag.samples.push_back({labels, std::chrono::duration<double>(l.lag).count()});
            exhausted.samples.push_back({labels, static_cast<double>(l.accept_fd_exhausted)});
        }
        for (auto* f : {&open, &accepted, &closed, &in, &sent, &lag, &exhausted}) {
            out.push_back(std::move(*f));
        }
    });
}

void add_worker_pool_metrics(metrics::Registry& registry, const WorkerPool& pool) {
    registry.add_collector([&pool](std::vector<SampledFamily>& out) {
        out.push_back(one("keel_worker_pool_threads", "Threads of the worker pool (keel::offload).", "gauge",
                          static_cast<double>(pool.threads())));
        out.push_back(one("keel_worker_pool_queue_depth", "Jobs waiting in the worker pool's queue.", "gauge",
                          static_cast<double>(pool.queue_depth())));
        out.push_back(one("keel_worker_pool_queue_capacity", "Capacity of the worker pool's queue.", "gauge",
                          static_cast<double>(pool.capacity())));
        out.push_back(one("keel_worker_pool_rejected_total", "Jobs refused because the queue was full (503).",
                          "counter", static_cast<double>(pool.rejected())));
        out.push_back(one("keel_worker_pool_completed_total", "Jobs the worker pool has run.", "counter",
                          static_cast<double>(pool.completed())));
    });
}

}  // namespace keel::observe
