// The App as a real process: configuration errors, signals, graceful shutdown under load.
#include <keel/testing/test_server.hpp>

#include <support/process.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

using namespace std::chrono_literals;
using keel::testing::RawClient;

namespace {

using keel::test::Process;

std::string get(std::string_view path) { return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n\r\n"; }

}  // namespace

TEST(AppConfig, InvalidFlagValueExitsWith2AndNamesKeyValueAllowed) {
    Process p({KEEL_HELLO_BINARY, "--server.port", "http"});
    EXPECT_EQ(p.wait(10s), 2);
    EXPECT_NE(p.stderr_text().find(
                  "keel: config: server.port = \"http\" (from flag --server.port): must be an integer between 0 and 65535"),
              std::string::npos)
        << p.stderr_text();
}

TEST(AppConfig, InvalidEnvValueExitsWith2) {
    ::setenv("KEEL_SERVER_IDLE_TIMEOUT", "forever", 1);
    Process p({KEEL_HELLO_BINARY});
    ::unsetenv("KEEL_SERVER_IDLE_TIMEOUT");
    EXPECT_EQ(p.wait(10s), 2);
    EXPECT_NE(p.stderr_text().find("server.idle_timeout = \"forever\" (from env KEEL_SERVER_IDLE_TIMEOUT)"),
              std::string::npos)
        << p.stderr_text();
}

TEST(AppConfig, UnknownKeyInFileExitsWith2) {
    std::string path = ::testing::TempDir() + "/keel_app_bad.toml";
    std::ofstream(path) << "[server]\nthreds = 4\n";
    Process p({KEEL_HELLO_BINARY, "--config", path});
    EXPECT_EQ(p.wait(10s), 2);
    EXPECT_NE(p.stderr_text().find("unknown key \"server.threds\""), std::string::npos) << p.stderr_text();
}

TEST(AppConfig, CrossKeyRuleExitsWith2) {
    Process p({KEEL_HELLO_BINARY, "--server.read_header_timeout", "1m", "--server.read_timeout", "10s"});
    EXPECT_EQ(p.wait(10s), 2);
    EXPECT_NE(p.stderr_text().find("server.read_header_timeout = 1m: must not exceed server.read_timeout (10s)"),
              std::string::npos)
        << p.stderr_text();
}

TEST(AppConfig, InvalidHostExitsWith2) {
    Process p({KEEL_HELLO_BINARY, "--server.host", "256.1.1.1"});
    EXPECT_EQ(p.wait(10s), 2);
    EXPECT_NE(p.stderr_text().find("server.host = \"256.1.1.1\": must be a numeric IPv4 or IPv6 address"),
              std::string::npos)
        << p.stderr_text();
}

TEST(AppConfig, PortInUseExitsWith1) {
    // The other server listens with SO_REUSEPORT; keel must still refuse to share its port.
    keel::testing::TestServer other([](keel::http::Request&) { return keel::http::Response(); });
    Process p({KEEL_HELLO_BINARY, "--server.port", std::to_string(other.port())});
    EXPECT_EQ(p.wait(10s), 1);
    EXPECT_NE(p.stderr_text().find("cannot start server"), std::string::npos) << p.stderr_text();
    EXPECT_NE(p.stderr_text().find("Address already in use"), std::string::npos) << p.stderr_text();
}

TEST(AppLifecycle, GracefulShutdownUnderLoad) {
    Process p({KEEL_SLOW_APP_BINARY, "--server.port", "0", "--server.threads", "2"});
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();

    // Background load on keep-alive connections, and 16 requests that are mid-handler at SIGTERM.
    std::atomic<bool> stop_load{false};
    std::atomic<int> load_ok{0}, load_bad{0};
    std::vector<std::thread> load;
    for (int t = 0; t < 2; ++t) {
        load.emplace_back([&] {
            while (!stop_load) {
                RawClient c(static_cast<std::uint16_t>(port), 2000ms);
                if (!c.connected()) {
                    break;  // refused: the listener is closed
                }
                for (int i = 0; i < 50 && !stop_load; ++i) {
                    auto r = c.exchange(get("/hello"));
                    if (!r) {
                        break;  // closed by the server between requests: allowed
                    }
                    (r->status == 200 ? load_ok : load_bad)++;
                    if (r->header("Connection") == "close") {
                        break;
                    }
                }
            }
        });
    }
    std::vector<std::future<std::optional<keel::testing::RawResponse>>> inflight;
    for (int i = 0; i < 16; ++i) {
        inflight.push_back(std::async(std::launch::async, [port] {
            RawClient c(static_cast<std::uint16_t>(port), 8000ms);
            return c.exchange(get("/slow?ms=1500"));
        }));
    }
    std::this_thread::sleep_for(600ms);  // every one of them is inside its handler by now
    p.signal(SIGTERM);

    for (auto& f : inflight) {
        auto r = f.get();
        ASSERT_TRUE(r) << "an in-flight request was dropped";
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "slept");
        EXPECT_EQ(r->header("Connection"), "close");
    }
    EXPECT_EQ(p.wait(10s), 0) << p.stderr_text();
    stop_load = true;
    for (auto& t : load) {
        t.join();
    }
    EXPECT_GT(load_ok.load(), 0);
    EXPECT_EQ(load_bad.load(), 0);

    // After exit nothing listens on the port.
    RawClient after(static_cast<std::uint16_t>(port), 500ms);
    EXPECT_FALSE(after.connected());

    std::string log = p.stderr_text();
    auto hook2 = log.find("\"msg\":\"hook\",\"n\":2");
    auto hook1 = log.find("\"msg\":\"hook\",\"n\":1");
    ASSERT_NE(hook2, std::string::npos) << log;
    ASSERT_NE(hook1, std::string::npos) << log;
    EXPECT_LT(hook2, hook1) << "hooks run in reverse order of registration";
    EXPECT_NE(log.find("\"msg\":\"shutting down\",\"signal\":\"SIGTERM\""), std::string::npos);
    EXPECT_NE(log.find("\"msg\":\"stopped\""), std::string::npos);
}

TEST(AppLifecycle, DeadlineForceClosesStragglersAndExits0) {
    Process p({KEEL_SLOW_APP_BINARY, "--server.port", "0", "--server.threads", "1", "--server.shutdown_timeout",
               "300ms"});
    int port = p.wait_port();
    ASSERT_GT(port, 0);
    auto straggler = std::async(std::launch::async, [port] {
        RawClient c(static_cast<std::uint16_t>(port), 5000ms);
        return c.exchange(get("/slow?ms=30000"));
    });
    std::this_thread::sleep_for(200ms);
    auto start = std::chrono::steady_clock::now();
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(5s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    EXPECT_FALSE(straggler.get());
    EXPECT_NE(p.stderr_text().find("shutdown deadline passed"), std::string::npos) << p.stderr_text();
}

TEST(AppLifecycle, SecondSignalExitsAtOnce) {
    Process p({KEEL_SLOW_APP_BINARY, "--server.port", "0", "--server.shutdown_timeout", "60s"});
    int port = p.wait_port();
    ASSERT_GT(port, 0);
    auto straggler = std::async(std::launch::async, [port] {
        RawClient c(static_cast<std::uint16_t>(port), 5000ms);
        return c.exchange(get("/slow?ms=30000"));
    });
    std::this_thread::sleep_for(200ms);
    p.signal(SIGTERM);
    std::this_thread::sleep_for(200ms);
    auto start = std::chrono::steady_clock::now();
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(5s), 1);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_NE(p.stderr_text().find("second signal"), std::string::npos);
    straggler.get();
}

TEST(AppLifecycle, HelpExitsZero) {
    Process p({KEEL_HELLO_BINARY, "--help"});
    EXPECT_EQ(p.wait(10s), 0);
}

TEST(AppAdmin, ReadinessTurnsFalseAtShutdownWhileRequestsFinish) {
    Process p({KEEL_SLOW_APP_BINARY, "--server.port", "0", "--admin.listen", "127.0.0.1:0"});
    int port = p.wait_port();
    int admin = p.wait_admin_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    ASSERT_GT(admin, 0) << p.stderr_text();
    auto readyz = [admin] {
        RawClient c(static_cast<std::uint16_t>(admin));
        auto r = c.exchange(get("/readyz"));
        return r ? r->status : 0;
    };
    EXPECT_EQ(readyz(), 200);
    RawClient slow(static_cast<std::uint16_t>(port));
    ASSERT_TRUE(slow.send(get("/slow?ms=1500")));
    std::this_thread::sleep_for(200ms);
    p.signal(SIGTERM);
    int during = 0;
    for (int i = 0; i < 50 && during != 503; ++i) {
        during = readyz();
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(during, 503);  // not ready while the in-flight request is still running
    auto finished = slow.read_response();
    ASSERT_TRUE(finished);
    EXPECT_EQ(finished->status, 200);
    EXPECT_EQ(finished->body, "slept");
    EXPECT_EQ(p.wait(10s), 0);
}

TEST(AppAdmin, OnMainServesTheAdminEndpointsOnTheMainPort) {
    Process p({KEEL_SLOW_APP_BINARY, "--server.port", "0", "--admin.on_main", "true"});
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    RawClient c(static_cast<std::uint16_t>(port));
    auto m = c.exchange(get("/metrics"));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    EXPECT_NE(m->body.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
    auto h = c.exchange(get("/hello"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->body, "hello");
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(10s), 0);
}

TEST(AppAdmin, AnInvalidAdminAddressExitsWith2) {
    Process p({KEEL_SLOW_APP_BINARY, "--admin.listen", "localhost:90x"});
    EXPECT_EQ(p.wait(10s), 2);
    EXPECT_NE(p.stderr_text().find("admin.listen = \"localhost:90x\": must be a numeric address and port"),
              std::string::npos)
        << p.stderr_text();
}
