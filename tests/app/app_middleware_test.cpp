// App::recoverer() and App::access_log() write their lines through the App's JSON logger.
#include <keel/app/app.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/recorder.hpp>

#include <support/read_file.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include <unistd.h>

/// An App whose JSON log goes to a fresh file, and what it wrote.
class AppMiddleware : public ::testing::Test {
  protected:
    std::string logged() {
        app.logger().flush();
        return keel::test::read_file(path_);
    }

    /// A log file of the test's own, not there yet.
    static std::string fresh_path() {
        // The pid too: ctest runs the same test on each back-end at once.
        std::string p = ::testing::TempDir() + "/keel_app_" +
                        ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
                        std::to_string(::getpid()) + ".log";
        std::remove(p.c_str());
        return p;
    }

    std::string path_ = fresh_path();
    const char* argv_[3] = {"app", "--log.output", path_.c_str()};
    keel::App app{3, argv_};
    keel::router::Router r;
};

TEST_F(AppMiddleware, AccessLogAndRecovererLogJsonLinesWithTheRequestId) {
    r.use(app.recoverer());
    r.use(keel::mw::request_id());
    r.use(app.access_log());
    r.get("/users/{id}", [](keel::http::Request&) { return keel::http::Response::text("ok"); });
    r.get("/boom", [](keel::http::Request&) -> keel::http::Response { throw std::runtime_error("disk full"); });
    auto h = r.handler();
    keel::testing::call(h, keel::testing::TestRequest{"GET", "/users/7"}
                               .with_header("X-Request-ID", "req-ok")
                               .with_header("User-Agent", "curl/7.88"));
    auto boom =
        keel::testing::call(h, keel::testing::TestRequest{"GET", "/boom"}.with_header("X-Request-ID", "req-boom"));
    EXPECT_EQ(boom.status, 500);
    std::string log = logged();
    EXPECT_NE(log.find(R"("level":"info","msg":"request","method":"GET","route":"/users/{id}","path":"/users/7",)"
                       R"("status":200,"bytes":2,)"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find(R"("request_id":"req-ok","remote_ip":)"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("user_agent":"curl/7.88")"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("level":"error","msg":"handler failed","error":"disk full","method":"GET","path":"/boom",)"
                       R"("request_id":"req-boom")"),
              std::string::npos)
        << log;
}

TEST_F(AppMiddleware, LogLinesNameTheTraceOfTheRequest) {
    r.use(app.recoverer());
    r.use(keel::mw::request_id());
    r.use(keel::mw::trace_context());
    r.use(app.access_log());
    r.get("/ok", [](keel::http::Request& req) {
        // Handlers see the same trace and continue it on outgoing calls.
        return keel::http::Response::text(keel::mw::trace_of(req)->traceparent());
    });
    r.get("/boom", [](keel::http::Request&) -> keel::http::Response { throw std::runtime_error("boom"); });
    auto h = r.handler();
    const std::string incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    auto ok = keel::testing::call(h, keel::testing::TestRequest{"GET", "/ok"}.with_header("traceparent", incoming));
    EXPECT_EQ(ok.body.substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");  // same trace, new span
    EXPECT_NE(ok.body.substr(36, 16), "00f067aa0ba902b7");
    keel::testing::call(h, keel::testing::TestRequest{"GET", "/boom"}.with_header("traceparent", incoming));
    auto fresh = keel::testing::call(h, keel::testing::TestRequest{"GET", "/ok"}.with_header("traceparent", "garbage"));
    std::string new_trace = fresh.body.substr(3, 32);
    EXPECT_NE(new_trace, "4bf92f3577b34da6a3ce929d0e0e4736");  // an invalid header starts a new trace
    std::string log = logged();
    EXPECT_NE(log.find(R"("path":"/ok",)"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("msg":"handler failed","error":"boom")"), std::string::npos) << log;
    std::size_t lines = 0, traced = 0;
    std::istringstream all(log);
    for (std::string line; std::getline(all, line);) {
        if (line.find("\"path\":\"/") == std::string::npos) {
            continue;
        }
        ++lines;
        traced += line.find(R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736")") != std::string::npos ||
                  line.find("\"trace_id\":\"" + new_trace + "\"") != std::string::npos;
    }
    EXPECT_EQ(lines, 3u);  // /ok, the failure (a throwing handler has no access line), the fresh /ok
    EXPECT_EQ(traced, lines) << log;
}
