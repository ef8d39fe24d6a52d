// A service outside keel's tree, built against an installed keel: the router, JSON and the
// HTTP server only (no App, so no logger, profiler or database libraries). Prints its port,
// serves until SIGTERM.
#include <keel/http/json.hpp>
#include <keel/router/router.hpp>
#include <keel/server/server.hpp>
#include <keel/version.hpp>

#include <csignal>
#include <cstdio>

struct Sum {
    int a = 0;
    int b = 0;
};
KEEL_JSON(Sum, a, b)

struct Total {
    int total = 0;
    std::string keel = {};
};
KEEL_JSON(Total, total, keel)

int main() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    keel::router::Router r;
    r.post("/sum", [](keel::http::Request& req) -> keel::http::ProblemOr {
        KEEL_TRY(in, keel::http::bind<Sum>(req));
        return keel::http::json_response(Total{in.a + in.b, keel::kVersion});
    });
    keel::server::ServerOptions options;
    options.port = 0;
    options.threads = 1;
    keel::server::Server server(options, r.handler());
    if (auto started = server.start(); !started) {
        std::fprintf(stderr, "cannot start: %s\n", std::string(started.error().message()).c_str());
        return 1;
    }
    std::printf("port %u\n", static_cast<unsigned>(server.port()));
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    server.shutdown();
    server.wait_drained(std::chrono::seconds(5));
    server.stop();
    return 0;
}
