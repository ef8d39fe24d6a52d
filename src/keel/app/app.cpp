#include <keel/app/app.hpp>
#include <keel/middleware/access_log.hpp>
#include <keel/middleware/recoverer.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>
#include <keel/net/address.hpp>
#include <keel/observe/http_metrics.hpp>
#include <keel/observe/runtime_metrics.hpp>
#include <keel/tls/server_context.hpp>

#include "handover.hpp"
#include "socket_activation.hpp"
#include "systemd_notify.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>
#include <tuple>
#include <unistd.h>

namespace keel {
namespace {

using namespace std::chrono_literals;

void define_standard_keys(config::Config& c) {
    c.define_string("server.host", "127.0.0.1", "address to listen on (numeric IPv4/IPv6)");
    c.define_int("server.port", 8080, 0, 65535, "TCP port to listen on (0 = any free port)");
    c.define_int("server.threads", 0, 0, 1024, "event-loop threads (0 = one per hardware thread)");
    c.define_int("server.backlog", 4096, 1, 65535, "listen backlog per loop thread");
    c.define_string("server.io", std::string(to_string(default_io_backend())),
                    "event-loop I/O back-end (io_uring: Linux 5.19+; default epoll, or $KEEL_IO)", {"epoll", "io_uring"});
    c.define_duration("server.io_batch_wait", 0s, 0s, 1s,
                      "io_uring (Linux 6.12+): sleep up to this much longer for a fuller batch of completions "
                      "(less CPU per request under load, that much more latency when light)");
    c.define_bytes("server.max_header_bytes", 16 * 1024, 256, 1 << 20, "max request line + headers (431)");
    c.define_bytes("server.max_uri_bytes", 8 * 1024, 64, 1 << 20, "max request-target length (414)");
    c.define_int("server.max_headers", 100, 1, 10000, "max header fields per request (431)");
    c.define_bytes("server.max_body_bytes", 1 << 20, 0, 1ull << 32, "max request body (413)");
    c.define_duration("server.read_header_timeout", 10s, 1ms, 24h, "time to receive a request head (408)");
    c.define_duration("server.read_timeout", 30s, 1ms, 24h, "time to receive a whole request (408)");
    c.define_duration("server.write_timeout", 30s, 1ms, 24h, "time a response may wait for a slow reader");
    c.define_duration("server.idle_timeout", 60s, 1ms, 24h, "keep-alive connection idle time");
    c.define_duration("server.handler_timeout", 30s, 0s, 24h, "per-request handler deadline (503); 0 = none");
    c.define_duration("server.shutdown_timeout", 15s, 0s, 1h, "graceful shutdown deadline");
    c.define_duration("server.shutdown_delay", 0s, 0s, 10min,
                      "at shutdown, report not-ready (/readyz 503) but keep serving this long before closing the "
                      "listeners: a load balancer's time to take the instance out");
    c.define_string("server.tls_cert", "",
                    "PEM certificate chain: serve HTTPS (several, comma-separated: chosen by SNI, the first by default)");
    c.define_string("server.tls_key", "", "PEM private key of each server.tls_cert (both or neither)");
    c.define_string("server.tls_client_ca", "", "PEM CA bundle: require client certificates signed by it");
    c.define_duration("server.tls_handshake_timeout", 10s, 1ms, 1h, "time a client has to finish the TLS handshake");
    c.define_bool("server.h2", true, "offer HTTP/2 to TLS clients (ALPN h2)");
    c.define_bool("server.h2c", false, "accept HTTP/2 without TLS from clients that open with its preface");
    c.define_bool("server.http1", true, "serve HTTP/1.x (false: the port speaks HTTP/2 only)");
    c.define_int("server.h2_max_concurrent_streams", 100, 1, 10000, "HTTP/2 streams one client may have open at once");
    c.define_int("server.h2_max_buffered_bytes", 512 * 1024, 16 * 1024, 1LL << 32,
                 "HTTP/2 response bytes one connection may hold unsent before its new requests wait");
    c.define_string("log.level", "info", "minimum log level", {"trace", "debug", "info", "warn", "error", "off"});
    c.define_string("log.output", "stderr", "stderr, stdout or a file path");
    c.define_int("workers.threads", 4, 1, 1024, "worker pool threads for blocking work (keel::offload)");
    c.define_int("workers.queue", 1024, 1, 1 << 20, "worker pool queue capacity (full → 503)");
}

/// "host:port" or "[v6]:port" → address parts; throws ConfigError naming the key.
std::pair<std::string, std::uint16_t> parse_listen(const std::string& key, const std::string& value) {
    auto hp = net::parse_host_port(value);
    if (!hp || !net::Address::parse(hp->host, hp->port)) {
        throw config::ConfigError("keel: config: " + key + " = \"" + value +
                                  "\": must be a numeric address and port like 127.0.0.1:9090 or [::1]:9090");
    }
    return {hp->host, hp->port};
}

}  // namespace

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

// Signals are taken by run() with sigwait; block them before any thread exists so every thread
// inherits the mask. SIGPIPE is never wanted (sends use MSG_NOSIGNAL anyway).
void App::block_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);   // reloads the TLS certificates (run())
    sigaddset(&set, SIGUSR2);  // hands the sockets to a new process (run())
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

void App::take_inherited_sockets() {
    detail::InheritedSockets s = detail::take_inherited_sockets();
    if (!s.error.empty()) {
        std::fprintf(stderr, "%s: socket activation: %s\n", options_.name.c_str(), s.error.c_str());
        std::exit(2);
    }
    inherited_main_ = std::move(s.main);
    inherited_admin_ = std::move(s.admin);
}

void App::load_config(int argc, const char* const* argv) {
    try {
        define_standard_keys(config_);
        config_.define_string("admin.listen", options_.admin_listen,
                              "address of the admin listener (/metrics, /debug/pprof, /debug/vars, /livez, /readyz); "
                              "empty = none");
        config_.define_bool("admin.on_main", false, "serve the admin endpoints on the main port instead");
        config_.define_duration("admin.max_profile", std::chrono::seconds(60), std::chrono::seconds(1),
                                std::chrono::hours(1), "longest CPU profile /debug/pprof/profile may take");
        if (options_.define) {
            options_.define(config_);
        }
        if (!config_.load(argc, argv)) {
            std::exit(0);  // --help
        }
        (void)server_options();  // validates cross-key rules
        if (!config_.get_string("admin.listen").empty()) {
            (void)parse_listen("admin.listen", config_.get_string("admin.listen"));
        }
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
        w.begin_object()
            .key("version").value(b.version)
            .key("git_commit").value(b.git_commit)
            .key("compiler").value(b.compiler)
            .key("flags").value(b.flags)
            .key("build_type").value(b.build_type)
            .key("heap_profiles").value(observe::heap_profiles_available())
            .end_object();
    });
    vars_.add("process", [this](json::Writer& w) {
        w.begin_object()
            .key("name").value(options_.name)
            .key("pid").value(static_cast<std::int64_t>(::getpid()))
            .key("uptime_seconds").value(std::chrono::duration<double>(Clock::now() - started_).count())
            .key("ready").value(ready())
            .end_object();
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
                w.begin_object()
                    .key("index").value(static_cast<std::int64_t>(l.index))
                    .key("connections_open").value(l.connections_open)
                    .key("connections_accepted").value(l.connections_accepted)
                    .key("requests").value(l.requests)
                    .key("bytes_in").value(l.bytes_in)
                    .key("bytes_out").value(l.bytes_out)
                    .key("lag_seconds").value(std::chrono::duration<double>(l.lag).count())
                    .end_object();
            }
        }
        w.end_array();
    });
    vars_.add("workers", [this](json::Writer& w) {
        w.begin_object()
            .key("threads").value(static_cast<std::int64_t>(workers_->threads()))
            .key("queue_depth").value(static_cast<std::int64_t>(workers_->queue_depth()))
            .key("queue_capacity").value(static_cast<std::int64_t>(workers_->capacity()))
            .key("rejected").value(workers_->rejected())
            .key("completed").value(workers_->completed())
            .end_object();
    });
}

App::~App() {
    if (workers_) {
        workers_->stop();
    }
}

server::ServerOptions App::server_options() const {
    server::ServerOptions o;
    o.host = config_.get_string("server.host");
    o.port = config_.get_int<std::uint16_t>("server.port");
    o.threads = config_.get_int<unsigned>("server.threads");
    o.backlog = config_.get_int<int>("server.backlog");
    o.io = parse_io_backend(config_.get_string("server.io")).value_or(IoBackend::epoll);
    o.io_batch_wait = std::chrono::duration_cast<std::chrono::microseconds>(config_.get_duration("server.io_batch_wait"));
    o.limits.max_header_bytes = config_.get_bytes("server.max_header_bytes");
    o.limits.max_uri_bytes = config_.get_bytes("server.max_uri_bytes");
    o.limits.max_headers = config_.get_int<std::size_t>("server.max_headers");
    o.limits.max_body_bytes = config_.get_bytes("server.max_body_bytes");
    o.read_header_timeout = config_.get_duration("server.read_header_timeout");
    o.read_timeout = config_.get_duration("server.read_timeout");
    o.write_timeout = config_.get_duration("server.write_timeout");
    o.idle_timeout = config_.get_duration("server.idle_timeout");
    o.handler_timeout = config_.get_duration("server.handler_timeout");
    o.shutdown_timeout = config_.get_duration("server.shutdown_timeout");
    o.tls_handshake_timeout = config_.get_duration("server.tls_handshake_timeout");
    o.h2c = config_.get_bool("server.h2c");
    o.http1 = config_.get_bool("server.http1");
    o.stream_body = stream_body_;
    o.h2_max_concurrent_streams = config_.get_int<std::uint32_t>("server.h2_max_concurrent_streams");
    o.h2_max_buffered_bytes = config_.get_int<std::size_t>("server.h2_max_buffered_bytes");
    if (config_.get_string("server.tls_cert").empty() != config_.get_string("server.tls_key").empty()) {
        throw config::ConfigError("keel: config: server.tls_cert and server.tls_key: give both (HTTPS) or neither");
    }
    if (auto a = net::Address::parse(o.host, o.port); !a) {
        throw config::ConfigError("keel: config: server.host = \"" + o.host +
                                  "\": must be a numeric IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::1)");
    }
    if (o.limits.max_uri_bytes > o.limits.max_header_bytes) {
        throw config::ConfigError("keel: config: server.max_uri_bytes = " + std::to_string(o.limits.max_uri_bytes) +
                                  ": must not exceed server.max_header_bytes (" +
                                  std::to_string(o.limits.max_header_bytes) + ")");
    }
    if (o.read_header_timeout > o.read_timeout) {
        throw config::ConfigError("keel: config: server.read_header_timeout = " +
                                  config::format_duration(o.read_header_timeout) +
                                  ": must not exceed server.read_timeout (" + config::format_duration(o.read_timeout) +
                                  ")");
    }
    return o;
}

void App::handle(http::Handler handler) { handler_ = std::move(handler); }

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
            logger->info("request", {{"method", a.method},
                                     {"route", ""},
                                     {"path", a.path},
                                     {"status", a.status},
                                     {"duration_us", static_cast<std::int64_t>(
                                                         std::chrono::duration_cast<std::chrono::microseconds>(a.duration)
                                                             .count())},
                                     {"request_id", a.request_id},
                                     {"remote_ip", a.remote_ip},
                                     {"answered_by", "server"},
                                     {"reason", a.reason}});
        }
    };
}

void App::add_admin_routes(router::Router& r) {
    metrics::Registry* reg = &metrics_;
    r.get("/metrics", [reg](http::Request&) {
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
    r.get("/debug/vars", vars_.handler());
    r.get("/livez", health_.livez());
    r.get("/readyz", health_.readyz());
}

void App::on_shutdown(std::function<void()> hook) { hooks_.push_back(std::move(hook)); }

namespace {
std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::size_t from = 0;
    for (;;) {
        std::size_t comma = s.find(',', from);
        std::string part = s.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        auto b = part.find_first_not_of(' '), e = part.find_last_not_of(' ');
        out.push_back(b == std::string::npos ? std::string() : part.substr(b, e - b + 1));
        if (comma == std::string::npos) {
            return out;
        }
        from = comma + 1;
    }
}
}  // namespace

Result<std::shared_ptr<tls::ServerContext>> App::make_tls() const {
    std::vector<std::string> certs = split_list(config_.get_string("server.tls_cert"));
    std::vector<std::string> keys = split_list(config_.get_string("server.tls_key"));
    if (certs.size() == 1 && certs[0].empty()) {
        return std::shared_ptr<tls::ServerContext>();
    }
    if (certs.size() != keys.size()) {
        return Error::with_detail(Errc::invalid_argument, "server.tls_cert lists " + std::to_string(certs.size()) +
                                                              " certificates but server.tls_key " +
                                                              std::to_string(keys.size()) + " keys");
    }
    tls::Options o;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        o.certificates.push_back({certs[i], keys[i]});
    }
    o.client_ca = config_.get_string("server.tls_client_ca");
    if (!config_.get_bool("server.http1")) {
        o.alpn = {"h2"};
    } else if (config_.get_bool("server.h2")) {
        o.alpn = {"h2", "http/1.1"};
    }
    return tls::ServerContext::create(std::move(o));
}

void App::reload_tls() {
    if (!tls_) {
        logger_->info("SIGHUP: nothing to reload (no TLS certificate configured)");
        return;
    }
    if (auto r = tls_->reload(); !r) {
        logger_->error("TLS reload failed, the current certificates stay", {{"error", r.error().message()}});
    } else {
        logger_->info("TLS certificates reloaded", {{"reloads", tls_->stats().reloads}});
    }
}

int App::run() {
    server::ServerOptions so = server_options();
    so.listen_fds = inherited_main_;  // socket activation: server.host/port are the socket unit's
    if (auto t = make_tls(); !t) {
        logger_->error("cannot start server", {{"error", t.error().message()}});
        logger_->flush();
        return 1;
    } else if (*t) {
        tls_ = *t;
        so.tls = tls_;
        metrics_.add_collector(tls_->collector());
    }
    log::Logger* logger = logger_.get();
    so.on_event = [logger](const server::ServerEvent& e) {
        auto level = e.level == server::ServerEvent::Level::error  ? log::Level::error
                     : e.level == server::ServerEvent::Level::warn ? log::Level::warn
                     : e.level == server::ServerEvent::Level::info ? log::Level::info
                                                                 : log::Level::debug;
        logger->log(level, e.message, {{"detail", e.detail}});
    };
    so.on_answer = server_answer_sink();
    // The admin endpoints: on their own listener, or in front of the main handler.
    http::Handler main_handler = handler_;
    std::unique_ptr<server::Server> admin;
    const std::string admin_listen = config_.get_string("admin.listen");
    if (config_.get_bool("admin.on_main")) {
        router::Router ar;
        add_admin_routes(ar);
        main_handler = [user = handler_, admin_handler = ar.handler()](http::Request& req) -> http::Outcome {
            std::string_view p = req.path();
            bool is_admin = p == "/metrics" || p == "/livez" || p == "/readyz" || p.rfind("/debug/", 0) == 0;
            return is_admin ? admin_handler.invoke(req) : user.invoke(req);
        };
    } else if (!admin_listen.empty() || !inherited_admin_.empty()) {
        router::Router ar;
        add_admin_routes(ar);
        server::ServerOptions ao = so;
        ao.tls = nullptr;  // the admin listener is for operators on a private address: plain HTTP
        ao.listen_fds = inherited_admin_;
        if (inherited_admin_.empty()) {
            std::tie(ao.host, ao.port) = parse_listen("admin.listen", admin_listen);
        }
        ao.threads = 1;
        ao.handler_timeout = config_.get_duration("admin.max_profile") + std::chrono::seconds(10);
        admin = std::make_unique<server::Server>(ao, ar.handler(), workers_.get());
        if (auto r = admin->start(); !r) {
            logger_->error("cannot start the admin listener", {{"error", r.error().message()}});
            logger_->flush();
            return 1;
        }
        admin_port_.store(admin->port(), std::memory_order_release);
        logger_->info("admin listening", {{"addr", ao.listen_fds.empty() ? ao.host + ":" + std::to_string(admin->port())
                                                                         : "inherited socket"}});
    }
    server::Server server(so, main_handler, workers_.get());
    if (auto r = server.start(); !r) {
        logger_->error("cannot start server", {{"error", r.error().message()}});
        logger_->flush();
        return 1;
    }
    server_.store(&server, std::memory_order_release);
    port_.store(server.port(), std::memory_order_release);
    ready_.store(true, std::memory_order_release);
    logger_->info("listening", {{"service", options_.name},
                                {"addr", so.host + ":" + std::to_string(server.port())},
                                {"inherited_sockets", so.listen_fds.size()},
                                {"tls", tls_ != nullptr},
                                {"io", std::string(to_string(so.io))},
                                {"threads", so.threads ? so.threads : std::thread::hardware_concurrency()}});
    // Under systemd (Type=notify): started means serving.
    detail::systemd_notify("READY=1\nSTATUS=listening on " + so.host + ":" + std::to_string(server.port()) +
                           "\nMAINPID=" + std::to_string(::getpid()));

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2);
    timespec tick{0, 100'000'000};
    bool handed_over = false;
    for (;;) {
        feed_watchdog(server);
        int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGHUP) {
            reload_tls();
            continue;
        }
        if (sig == SIGUSR2) {
            if ((handed_over = hand_over(server, admin.get()))) {
                break;
            }
            continue;
        }
        if (sig > 0) {
            logger_->info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
            break;
        }
        if (shutdown_requested_.load(std::memory_order_acquire)) {
            logger_->info("shutting down", {{"signal", "request"}});
            break;
        }
    }
    graceful_shutdown(server, admin.get(), handed_over);
    server_.store(nullptr, std::memory_order_release);
    return 0;
}

bool App::hand_over(const server::Server& server, const server::Server* admin) {
    std::vector<detail::PassedSocket> sockets;
    for (int fd : inherited_main_.empty() ? server.listener_fds() : inherited_main_) {
        sockets.push_back({fd, "http"});
    }
    if (admin != nullptr) {
        for (int fd : inherited_admin_.empty() ? admin->listener_fds() : inherited_admin_) {
            sockets.push_back({fd, "admin"});
        }
    }
    logger_->info("SIGUSR2: starting a new process on this one's sockets",
                  {{"executable", executable_}, {"sockets", sockets.size()}});
    auto pid = detail::start_successor(executable_, args_, sockets, 60s);
    if (!pid) {
        logger_->error("handover failed; this process serves on", {{"error", pid.error().message()}});
        return false;
    }
    logger_->info("handed over: the new process serves on the same sockets; draining", {{"pid", *pid}});
    return true;
}

void App::feed_watchdog(const server::Server& server) {
    static const Duration interval = detail::systemd_watchdog_interval();
    TimePoint now = Clock::now();
    if (interval == Duration::zero() || now < next_watchdog_ping_) {
        return;
    }
    // Ping twice per interval, and only while every loop ticks: a loop stuck in a handler makes
    // systemd restart the service, as a hung process should be.
    next_watchdog_ping_ = now + interval / 2;
    Duration stuck = server.longest_since_tick();
    if (stuck < std::max<Duration>(interval / 2, 1s)) {
        detail::systemd_notify("WATCHDOG=1");
    } else {
        logger_->error("a loop thread stopped ticking: not feeding the watchdog",
                       {{"stuck_ms", std::chrono::duration_cast<std::chrono::milliseconds>(stuck).count()}});
    }
}

void App::graceful_shutdown(server::Server& server, server::Server* admin, bool handed_over) {
    ready_.store(false, std::memory_order_release);
    detail::systemd_notify("STOPPING=1\nSTATUS=shutting down");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    // Waits up to `d` for a second SIGTERM/SIGINT, which exits at once.
    auto second_signal_exits = [&](Duration d) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
        timespec wait{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
        if (sigtimedwait(&set, nullptr, &wait) > 0) {
            logger_->warn("second signal: exiting at once");
            logger_->flush();
            std::_Exit(1);
        }
    };
    // Not ready, still serving: a load balancer polling /readyz takes this instance out before
    // its listeners close, so no client is refused.
    // After a handover the successor accepts on the same sockets already: no delay is needed.
    if (Duration delay = config_.get_duration("server.shutdown_delay"); delay > Duration::zero() && !handed_over) {
        logger_->info("not ready; serving on until the shutdown delay ends",
                      {{"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()}});
        for (auto until = Clock::now() + delay; Clock::now() < until;) {
            feed_watchdog(server);
            second_signal_exits(std::min<Duration>(50ms, until - Clock::now()));
        }
    }
    server.shutdown();
    auto deadline = Clock::now() + server.options().shutdown_timeout;
    bool drained = false;
    while (!(drained = server.wait_drained(50ms)) && Clock::now() < deadline) {
        feed_watchdog(server);  // draining loops still tick
        second_signal_exits(Duration::zero());
    }
    if (!drained) {
        logger_->warn("shutdown deadline passed, closing remaining connections",
                      {{"open_connections", server.stats().connections_open}});
    }
    server.stop();
    if (admin != nullptr) {
        // Served through the drain (so /readyz said 503 while it lasted); now it goes too.
        admin->shutdown();
        admin->wait_drained(std::chrono::seconds(1));
        admin->stop();
    }
    for (auto it = hooks_.rbegin(); it != hooks_.rend(); ++it) {
        try {
            (*it)();
        } catch (const std::exception& e) {
            logger_->error("shutdown hook failed", {{"error", e.what()}});
        }
    }
    workers_->stop();
    auto stats = server.stats();
    logger_->info("stopped", {{"requests", stats.requests}, {"connections", stats.connections_accepted}});
    logger_->flush();
}

}  // namespace keel
