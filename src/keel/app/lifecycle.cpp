// The App's process lifecycle: signals, socket activation and handover, the TLS context and its
// reload, starting the main and admin servers, waiting for the signal that ends them, and the
// graceful shutdown (drain, deadline, hooks). The configuration schema is config_schema.cpp; the
// admin surface and the middleware are app.cpp.
#include <keel/app/app.hpp>
#include <keel/tls/server_context.hpp>

#include "admin_paths.hpp"
#include "config_schema.hpp"
#include "handover.hpp"
#include "socket_activation.hpp"
#include "systemd_notify.hpp"

#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <tuple>

namespace keel {

using namespace std::chrono_literals;

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
    std::optional<server::ServerOptions> so = main_server_options();
    if (!so) {
        return 1;
    }
    // The admin endpoints: on their own listener, or in front of the main handler.
    http::Handler main_handler = handler_;
    std::unique_ptr<server::Server> admin;
    if (config_.get_bool("admin.on_main")) {
        main_handler = with_admin_routes(handler_);
    } else if (!config_.get_string("admin.listen").empty() || !inherited_admin_.empty()) {
        if (!(admin = start_admin_listener(*so))) {
            return 1;
        }
    }
    server::Server server(*so, main_handler, workers_.get());
    if (auto r = server.start(); !r) {
        logger_->error("cannot start server", {{"error", r.error().message()}});
        logger_->flush();
        return 1;
    }
    announce_serving(server, *so);
    bool handed_over = wait_for_stop(server, admin.get());
    graceful_shutdown(server, admin.get(), handed_over);
    server_.store(nullptr, std::memory_order_release);
    return 0;
}

std::optional<server::ServerOptions> App::main_server_options() {
    server::ServerOptions so = server_options();
    so.listen_fds = inherited_main_;  // socket activation: server.host/port are the socket unit's
    if (auto t = make_tls(); !t) {
        logger_->error("cannot start server", {{"error", t.error().message()}});
        logger_->flush();
        return std::nullopt;
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
    return so;
}

http::Handler App::with_admin_routes(http::Handler user) {
    router::Router ar;
    add_admin_routes(ar);
    return [user = std::move(user), admin = ar.handler()](http::Request& req) -> http::Outcome {
        return detail::is_admin_path(req.path()) ? admin.invoke(req) : user.invoke(req);
    };
}

std::unique_ptr<server::Server> App::start_admin_listener(const server::ServerOptions& main) {
    router::Router ar;
    add_admin_routes(ar);
    server::ServerOptions ao = main;
    ao.tls = nullptr;  // the admin listener is for operators on a private address: plain HTTP
    ao.listen_fds = inherited_admin_;
    if (inherited_admin_.empty()) {
        std::tie(ao.host, ao.port) = detail::parse_listen("admin.listen", config_.get_string("admin.listen"));
    }
    ao.threads = 1;
    ao.handler_timeout = config_.get_duration("admin.max_profile") + std::chrono::seconds(10);
    auto admin = std::make_unique<server::Server>(ao, ar.handler(), workers_.get());
    if (auto r = admin->start(); !r) {
        logger_->error("cannot start the admin listener", {{"error", r.error().message()}});
        logger_->flush();
        return nullptr;
    }
    admin_port_.store(admin->port(), std::memory_order_release);
    logger_->info("admin listening", {{"addr", ao.listen_fds.empty() ? ao.host + ":" + std::to_string(admin->port())
                                                                     : "inherited socket"}});
    return admin;
}

void App::announce_serving(const server::Server& server, const server::ServerOptions& so) {
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
}

bool App::wait_for_stop(server::Server& server, const server::Server* admin) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2);
    timespec tick{0, 100'000'000};
    for (;;) {
        feed_watchdog(server);
        int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGHUP) {
            reload_tls();
            continue;
        }
        if (sig == SIGUSR2) {
            if (hand_over(server, admin)) {
                return true;
            }
            continue;
        }
        if (sig > 0) {
            logger_->info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
            return false;
        }
        if (shutdown_requested_.load(std::memory_order_acquire)) {
            logger_->info("shutting down", {{"signal", "request"}});
            return false;
        }
    }
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
