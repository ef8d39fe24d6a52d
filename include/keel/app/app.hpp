#pragma once
/// keel::App: the lifecycle of a keel service. It defines and loads the standard configuration
/// (server.*, log.*, workers.*), owns the logger, the worker pool and the server, and runs until
/// SIGTERM or SIGINT. Then it shuts down gracefully: stop accepting, report not-ready, finish
/// in-flight requests (answered with Connection: close), close idle keep-alive connections,
/// wait up to server.shutdown_timeout, force-close what remains, run the shutdown hooks in
/// reverse order of registration, flush the log, and return 0. A second signal exits at once.
///
///     int main(int argc, char** argv) {
///         keel::App app(argc, argv, {.name = "hello"});
///         app.handle([](keel::Request&) { return keel::Response::text("Hello, World!"); });
///         return app.run();
///     }
///
/// An invalid configuration prints a message naming the key, the value and what is allowed, and
/// exits with code 2 from the constructor (setup mistakes fail at once).
///
/// Deployment: sockets passed by systemd (`$LISTEN_FDS`; one named "admin" serves the admin
/// endpoints) are used instead of binding; under `Type=notify` the App reports READY=1,
/// STOPPING=1 and, with `WatchdogSec=`, WATCHDOG=1 while every loop thread runs. Without
/// systemd, SIGUSR2 upgrades in place: the executable (the file at the path this process
/// started from, so a freshly installed binary) starts on this process's listening sockets,
/// and once it reports ready this process drains and exits 0, so no connection is refused.
/// SIGHUP reloads the TLS certificates.

#include <keel/config/config.hpp>
#include <keel/core/loop_thread.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/http/middleware.hpp>
#include <keel/observe/debug.hpp>
#include <keel/observe/health.hpp>
#include <keel/observe/log.hpp>
#include <keel/observe/metrics.hpp>
#include <keel/router/router.hpp>
#include <keel/server/server.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace keel::tls {
class ServerContext;  // keel/tls/server_context.hpp
}

namespace keel {

struct AppOptions {
    std::string name = "keel";
    /// Prefix of environment variables (KEEL_SERVER_PORT).
    std::string env_prefix = "KEEL";
    /// Defines the service's own keys before the configuration is loaded.
    std::function<void(config::Config&)> define = {};
    /// Default of `admin.listen`: where /metrics, /debug/*, /livez and /readyz are served
    /// ("127.0.0.1:9090"); empty = no admin listener.
    std::string admin_listen = {};
};

class App {
  public:
    /// Loads and validates the configuration; on error prints it and exits with code 2;
    /// on --help prints the keys and exits 0.
    App(int argc, const char* const* argv, AppOptions options = {});
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    config::Config& config() noexcept { return config_; }
    log::Logger& logger() noexcept { return *logger_; }
    WorkerPool& workers() noexcept { return *workers_; }

    /// keel::mw::recoverer reporting to this App's logger (with the request id when request_id
    /// runs inside it). Install it first: it must be the outermost middleware.
    http::Middleware recoverer();
    /// keel::mw::access_log writing one JSON line per request to this App's logger. Requests
    /// the server answers itself (400, 408, 413, 414, 431, 503 past the handler deadline) are
    /// logged the same way, with route "" and `"answered_by":"server"`.
    http::Middleware access_log();
    /// keel::observe::http_metrics on this App's registry. Install it first (outermost). The
    /// server's own answers are counted too (route "").
    http::Middleware http_metrics();

    /// The metrics registry (/metrics); process, server, loop and worker-pool metrics are in it.
    metrics::Registry& metrics() noexcept { return metrics_; }
    /// Readiness checks (/readyz); readiness is false from the start of shutdown.
    observe::Health& health() noexcept { return health_; }
    /// Sections of /debug/vars (build, config with secrets redacted, loops, workers, process).
    observe::Vars& vars() noexcept { return vars_; }
    /// Adds /metrics, /debug/pprof/*, /debug/vars, /livez and /readyz to `r`. run() serves them
    /// on `admin.listen`, or on the main port when `admin.on_main` is true.
    void add_admin_routes(router::Router& r);
    /// More admin routes from the service (under /debug/, e.g. keel::jobs' /debug/jobs), added
    /// by add_admin_routes after keel's own. Before run().
    void on_admin_routes(std::function<void(router::Router&)> add);
    /// The admin listener's port once run() is serving (0 when there is none).
    std::uint16_t admin_port() const noexcept { return admin_port_.load(std::memory_order_acquire); }

    /// Applies the database's missing migrations now, before serving: `db` is a
    /// sqlite::Database or postgres::Database (anything with `Task<Result<int>>
    /// migrate(migrations)`). Logs "database migrated" with how many were applied; on failure
    /// logs the reason and exits the process with code 1 (a service must not serve on a schema
    /// it does not know).
    ///
    ///     keel::sqlite::Database db({.file = {.path = app.config().get_string("db.path")}});
    ///     app.migrate(db, todo::migrations());
    template <class Database, class Migrations>
    void migrate(Database& db, const Migrations& migrations) {
        LoopThread loop(workers_.get());
        auto applied = loop.block_on([&] { return db.migrate(migrations); });
        if (!applied) {
            logger_->error("cannot migrate the database", {{"error", applied.error().message()}});
            logger_->flush();
            std::exit(1);
        }
        logger_->info("database migrated", {{"applied", static_cast<std::int64_t>(*applied)}});
    }

    /// The handler every request goes to (a router is a handler too).
    void handle(http::Handler handler);
    /// Which requests' bodies are streamed to their handler (req.body_stream()) instead of read
    /// whole first; asked with each head that announces a body (see keel/http/body_stream.hpp).
    void stream_bodies(http::StreamBodyPredicate predicate) { stream_body_ = std::move(predicate); }
    /// Runs at shutdown after the server has stopped, in reverse order of registration.
    void on_shutdown(std::function<void()> hook);

    /// Starts serving and blocks until a signal (or request_shutdown()) and the graceful
    /// shutdown complete. Returns the process exit code: 0, or 1 when the server cannot start.
    int run();
    /// Starts the graceful shutdown as a signal would. Any thread.
    void request_shutdown() noexcept { shutdown_requested_.store(true, std::memory_order_release); }
    /// True from start-up until shutdown begins (drives /readyz).
    bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
    /// The bound port once run() is serving (0 before).
    std::uint16_t port() const noexcept { return port_.load(std::memory_order_acquire); }

    /// The server options built from the configuration.
    server::ServerOptions server_options() const;

  private:
    // The constructor's steps, in order.
    void block_signals();
    void load_config(int argc, const char* const* argv);
    void open_logger();
    void register_runtime_metrics();
    void register_vars();

    /// The TLS context server.tls_cert/tls_key ask for (null when unset); fails with the reason.
    Result<std::shared_ptr<tls::ServerContext>> make_tls() const;
    void reload_tls();
    void take_inherited_sockets();
    /// SIGUSR2: starts the executable anew on this process's listening sockets; true once the
    /// new process serves (this one then drains and exits), false when it could not start.
    bool hand_over(const server::Server& server, const server::Server* admin);
    // run()'s steps (lifecycle.cpp).
    /// server_options() with what the process adds: inherited sockets, TLS, event and answer
    /// sinks. Null (logged) when the TLS context cannot be made.
    std::optional<server::ServerOptions> main_server_options();
    /// `user` behind the admin routes (admin.on_main).
    http::Handler with_admin_routes(http::Handler user);
    /// The admin listener (admin.listen or an inherited "admin" socket); null (logged) on failure.
    std::unique_ptr<server::Server> start_admin_listener(const server::ServerOptions& main);
    void announce_serving(const server::Server& server, const server::ServerOptions& so);
    /// Serves until SIGTERM/SIGINT or request_shutdown() (false), or a handover (true); SIGHUP
    /// reloads TLS meanwhile.
    bool wait_for_stop(server::Server& server, const server::Server* admin);
    void graceful_shutdown(server::Server& server, server::Server* admin, bool handed_over);
    /// Pings systemd's watchdog when one is armed and every loop is ticking.
    void feed_watchdog(const server::Server& server);
    std::function<void(const server::ServerAnswer&)> server_answer_sink();

    AppOptions options_;
    config::Config config_;
    std::unique_ptr<log::Logger> logger_;
    std::unique_ptr<WorkerPool> workers_;
    http::Handler handler_;
    http::StreamBodyPredicate stream_body_;
    std::vector<std::function<void()>> hooks_;
    std::vector<std::function<void(router::Router&)>> admin_routes_;
    std::atomic<bool> shutdown_requested_{false};
    std::atomic<bool> ready_{false};
    std::atomic<std::uint16_t> port_{0};
    std::atomic<std::uint16_t> admin_port_{0};
    bool log_server_answers_ = false;    // access_log() was used
    bool count_server_answers_ = false;  // http_metrics() was used
    metrics::Registry metrics_;
    observe::Health health_;
    observe::Vars vars_;
    std::atomic<const server::Server*> server_{nullptr};
    std::shared_ptr<tls::ServerContext> tls_;
    TimePoint started_ = Clock::now();
    // Listening sockets handed over by systemd ($LISTEN_FDS): the main port's, the admin one's.
    std::vector<int> inherited_main_;
    std::vector<int> inherited_admin_;
    TimePoint next_watchdog_ping_{};
    std::string executable_;         // this program's path at start (SIGUSR2 starts it anew)
    std::vector<std::string> args_;  // and its arguments
};

}  // namespace keel
