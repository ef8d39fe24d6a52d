// A keel App used by app_test as a real process: /hello, /slow?ms=N (a coroutine that sleeps),
// /started (how many /slow handlers have begun: what tests wait for instead of sleeping),
// /block?ms=N (blocks its loop thread, as a handler must never do: the watchdog test), /pid
// (which process answered: the handover test), and two shutdown hooks that log their order.
// Requests are counted and logged.
#include <keel/keel.hpp>

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <thread>

int main(int argc, char** argv) {
    keel::App app(argc, argv, {.name = "slow_app"});
    std::atomic<int> started{0};
    keel::Handler handler = [&started](keel::Request& req) -> keel::Task<keel::Response> {
        if (req.path() == "/pid") {
            co_return keel::Response::text(std::to_string(::getpid()));
        }
        if (req.path() == "/started") {
            co_return keel::Response::text(std::to_string(started.load()));
        }
        int ms = 100;
        if (std::string_view q = req.query(); q.substr(0, 3) == "ms=") {
            std::from_chars(q.data() + 3, q.data() + q.size(), ms);
        }
        if (req.path() == "/block") {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            co_return keel::Response::text("blocked");
        }
        if (req.path() == "/slow") {
            started.fetch_add(1);
            bool full = co_await keel::sleep_for(std::chrono::milliseconds(ms), req.stop_token());
            co_return keel::Response::text(full ? "slept" : "cancelled");
        }
        co_return keel::Response::text("hello");
    };
    app.handle(app.http_metrics()(app.access_log()(std::move(handler))));
    app.on_shutdown([&app] { app.logger().info("hook", {{"n", 1}}); });
    app.on_shutdown([&app] { app.logger().info("hook", {{"n", 2}}); });
    return app.run();
}
