#include <keel/app/app.hpp>
#include <keel/middleware/access_log.hpp>
#include <keel/middleware/recoverer.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>
#include <keel/net/address.hpp>
#include <keel/observe/http_metrics.hpp>
#include <keel/observe/runtime_metrics.hpp>
#include <keel/tls/server_context.hpp>

#include "admin_paths.hpp"
#include "config_schema.hpp"
#include "handover.hpp"

#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>
#include <tuple>

namespace keel {

App::App(int argc, const char* const* argv, AppOptions options)
    : options_(std::move(options)),
      config_(options_.env_prefix),
      executable_(detail::executable_path()),
      args_(argv, argv + argc) {
    block_signals();
    load_config(argc, argv);   // exits 2 (invalid) or 0 (--help)
    open_logger();             // exits 2 when log.output cannot be opened
    take_inherited_sockets();  // before any thread: it edits the environment; exits 2 when malformed
    workers_ = std::make_unique<WorkerPool>(
        WorkerPoolOptions{.threads = config_.get_int<std::size_t>("workers.threads"),
                          .queue_capacity = config_.get_int<std::size_t>("workers.queue")});
    register_runtime_metrics();
    register_vars();
}

void App::load_config(int argc, const char* const* argv) {
    try {
        detail::define_standard_keys(config_, options_.admin_listen);
        if (options_.define) {
            options_.define(config_);
        }
        if (!config_.load(argc, argv)) {
            std::exit(0);  // --help
        }
        detail::validate_standard_keys(config_);
    } catch (const config::ConfigError& e) {
        std::fprintf(stderr, "%s\n", e.what());
        std::exit(2);
    }
}

void App::open_logger() {
    log::LoggerOptions lo;
    lo.level = log::parse_level(config_.get_string("log.level")).value();
    lo.output = config_.get_string("log.output");
    try {
        logger_ = std::make_unique<log::Logger>(lo);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "keel: config: log.output = \"%s\": %s\n", lo.output.c_str(), e.what());
        std::exit(2);
    }
}

void App::register_runtime_metrics() {
    observe::add_process_metrics(metrics_);
    observe::add_server_metrics(metrics_, [this] { return server_.load(std::memory_order_acquire); });
    observe::add_worker_pool_metrics(metrics_, *workers_);
    health_.set_accepting([this] { return ready(); });
}

void App::register_vars() {
    vars_.add("build", [](json::Writer& w) {
        observe::BuildInfo b = observe::build_info();
        // One key and its value per line:
        // clang-format off
        w.begin_object()
            .key("version").value(b.version)
            .key("git_commit").value(b.git_commit)
            .key("compiler").value(b.compiler)
            .key("flags").value(b.flags)
            .key("build_type").value(b.build_type)
            .key("heap_profiles").value(observe::heap_profiles_available())
            .end_object();
        // clang-format on
    });
    vars_.add("process", [this](json::Writer& w) {
        // One key and its value per line:
        // clang-format off
        w.begin_object()
            .key("name").value(options_.name)
            .key("pid").value(static_cast<std::int64_t>(::getpid()))
            .key("uptime_seconds").value(std::chrono::duration<double>(Clock::now() - started_).count())
            .key("ready").value(ready())
            .end_object();
        // clang-format on
    });
    vars_.add("config", [this](json::Writer& w) {
        w.begin_object();
        for (const auto& [k, v] : config_.dump()) {  // secrets come out redacted
            w.key(k).value(v);
        }
        w.end_object();
    });
    vars_.add("loops", [this](json::Writer& w) {
        w.begin_array();
        if (const server::Server* s = server_.load(std::memory_order_acquire)) {
            for (const server::LoopStats& l : s->loop_stats()) {
                // One key and its value per line:
                // clang-format off
                w.begin_object()
                    .key("index").value(static_cast<std::int64_t>(l.index))
                    .key("connections_open").value(l.connections_open)
                    .key("connections_accepted").value(l.connections_accepted)
                    .key("requests").value(l.requests)
                    .key("bytes_in").value(l.bytes_in)
                    .key("bytes_out").value(l.bytes_out)
                    .key("lag_seconds").value(std::chrono::duration<double>(l.lag).count())
                    .end_object();
                // clang-format on
            }
        }
        w.end_array();
    });
    vars_.add("workers", [this](json::Writer& w) {
        // One key and its value per line:
        // clang-format off
        w.begin_object()
            .key("threads").value(static_cast<std::int64_t>(workers_->threads()))
            .key("queue_depth").value(static_cast<std::int64_t>(workers_->queue_depth()))
            .key("queue_capacity").value(static_cast<std::int64_t>(workers_->capacity()))
            .key("rejected").value(workers_->rejected())
            .key("completed").value(workers_->completed())
            .end_object();
        // clang-format on
    });
}

App::~App() {
    if (workers_) {
        workers_->stop();
    }
}

server::ServerOptions App::server_options() const {
    server::ServerOptions o = detail::server_options_from(config_);
    o.stream_body = stream_body_;
    return o;
}

void App::handle(http::Handler handler) {
    handler_ = std::move(handler);
}

http::Middleware App::recoverer() {
    log::Logger* logger = logger_.get();
    return mw::recoverer([logger](std::string_view what, http::Request& req) {
        const http::TraceContext* trace = mw::trace_of(req);
        logger->error("handler failed", {{"error", what},
                                         {"method", req.method_name()},
                                         {"path", req.path()},
                                         {"request_id", mw::request_id_of(req)},
                                         {"trace_id", trace ? trace->trace_id_hex() : std::string()}});
    });
}

http::Middleware App::access_log() {
    log_server_answers_ = true;
    log::Logger* logger = logger_.get();
    return mw::access_log([logger](const mw::AccessRecord& r) {
        logger->info("request", {{"method", r.method},
                                 {"route", r.route},
                                 {"path", r.path},
                                 {"status", r.status},
                                 {"bytes", r.bytes},
                                 {"duration_us", static_cast<std::int64_t>(r.duration.count())},
                                 {"request_id", r.request_id},
                                 {"remote_ip", r.remote_ip},
                                 {"user_agent", r.user_agent},
                                 {"trace_id", r.trace_id},
                                 {"proto", r.protocol}});
    });
}

http::Middleware App::http_metrics() {
    count_server_answers_ = true;
    return observe::http_metrics(metrics_);
}

std::function<void(const server::ServerAnswer&)> App::server_answer_sink() {
    std::function<void(const server::ServerAnswer&)> count;
    if (count_server_answers_) {
        count = observe::count_server_answers(metrics_);
    }
    log::Logger* logger = log_server_answers_ ? logger_.get() : nullptr;
    if (!count && !logger) {
        return {};
    }
    // The same line as access_log() writes, with route "" and the reason: a request that never
    // reached a handler (malformed, too large, too slow) is as visible as one that did.
    return [count = std::move(count), logger](const server::ServerAnswer& a) {
        if (count) {
            count(a);
        }
        if (logger) {
            logger->info(
                "request",
                {{"method", a.method},
                 {"route", ""},
                 {"path", a.path},
                 {"status", a.status},
                 {"duration_us",
                  static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(a.duration).count())},
                 {"request_id", a.request_id},
                 {"remote_ip", a.remote_ip},
                 {"answered_by", "server"},
                 {"reason", a.reason}});
        }
    };
}

void App::add_admin_routes(router::Router& r) {
    metrics::Registry* reg = &metrics_;
    r.get(std::string(detail::kMetricsPath), [reg](http::Request&) {
        http::Response res(200);
        res.header("Content-Type", metrics::kContentType);
        res.body_buffer() = reg->scrape();
        return res;
    });
    log::Logger* logger = logger_.get();
    auto pprof = observe::pprof_routes({.max_profile = config_.get_duration("admin.max_profile"),
                                        .on_profiler_output = [logger](std::string_view said) {
                                            logger->info("cpu profile taken", {{"profiler", said}});
                                        }});
    for (observe::DebugRoute& route : pprof) {
        r.get(route.path, std::move(route.handler));
    }
    r.get(std::string(detail::kVarsPath), vars_.handler());
    r.get(std::string(detail::kLivezPath), health_.livez());
    r.get(std::string(detail::kReadyzPath), health_.readyz());
    for (const auto& add : admin_routes_) {
        add(r);
    }
}

void App::on_admin_routes(std::function<void(router::Router&)> add) {
    admin_routes_.push_back(std::move(add));
}

void App::on_shutdown(std::function<void()> hook) {
    hooks_.push_back(std::move(hook));
}

}  // namespace keel
