// App::recoverer() and App::access_log() write their lines through the App's JSON logger.
#include <keel/app/app.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/recorder.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

TEST(AppMiddleware, AccessLogAndRecovererLogJsonLinesWithTheRequestId) {
    std::string path = ::testing::TempDir() + "/keel_app_mw.log";
    std::remove(path.c_str());
    const char* argv[] = {"app", "--log.output", path.c_str()};
    keel::App app(3, argv);
    keel::router::Router r;
    r.use(app.recoverer());
    r.use(keel::mw::request_id());
    r.use(app.access_log());
    r.get("/users/{id}", [](keel::http::Request&) { return keel::http::Response::text("ok"); });
    r.get("/boom", [](keel::http::Request&) -> keel::http::Response { throw std::runtime_error("disk full"); });
    auto h = r.handler();
    keel::testing::call(h, keel::testing::TestRequest{"GET", "/users/7"}
                               .with_header("X-Request-ID", "req-ok")
                               .with_header("User-Agent", "curl/7.88"));
    auto boom = keel::testing::call(h, keel::testing::TestRequest{"GET", "/boom"}.with_header("X-Request-ID", "req-boom"));
    EXPECT_EQ(boom.status, 500);
    app.logger().flush();

    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    std::string log = s.str();
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
