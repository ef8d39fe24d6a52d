// keel::observe::Health over a real socket: required checks decide readiness, optional ones
// are reported under ?verbose without making the service unready, shutdown turns it false.
#include <keel/observe/health.hpp>
#include <keel/testing/test_server.hpp>

#include <gtest/gtest.h>

#include <atomic>

namespace {

using keel::Task;

keel::testing::RawResponse get(keel::testing::TestServer& s, const std::string& path) {
    keel::testing::RawClient c(s.port());
    auto r = c.exchange("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_TRUE(r.has_value());
    return r.value_or(keel::testing::RawResponse{});
}

TEST(Health, OptionalChecksAreReportedButNeverMakeTheServiceUnready) {
    std::atomic<bool> database_up{true}, accepting{true};
    keel::observe::Health health([&] { return accepting.load(); });
    health.add_check("database", [&]() -> Task<keel::Result<void>> {
        if (!database_up) {
            co_return keel::Error(keel::Errc::unavailable, "database down");
        }
        co_return keel::Result<void>{};
    });
    health.add_check(
        "redis", []() -> Task<keel::Result<void>> { co_return keel::Error(keel::Errc::unavailable, "redis down"); },
        keel::observe::Health::Need::optional);
    keel::testing::TestServer server(health.readyz());

    auto ready = get(server, "/readyz?verbose");
    EXPECT_EQ(ready.status, 200);
    EXPECT_NE(ready.body.find(R"("status":"ready")"), std::string::npos) << ready.body;
    EXPECT_NE(ready.body.find(R"("database":"ok")"), std::string::npos) << ready.body;
    EXPECT_NE(ready.body.find("redis down"), std::string::npos) << ready.body;  // reported

    database_up = false;
    auto down = get(server, "/readyz?verbose");
    EXPECT_EQ(down.status, 503);
    EXPECT_NE(down.body.find("not ready: database"), std::string::npos) << down.body;
    EXPECT_EQ(down.body.find("not ready: database, redis"), std::string::npos) << down.body;  // optional
    EXPECT_EQ(down.header("Retry-After"), "1");

    database_up = true;
    accepting = false;
    EXPECT_EQ(get(server, "/readyz").status, 503);  // shutting down
}

}  // namespace
