// linkd's observability as an operator sees it: a scrape that promtool accepts and whose
// counters move by exactly the requests sent, admin endpoints that exist only on the admin
// listener, /debug/vars without secrets, and a CPU profile taken under load that google-pprof
// reads.
#include "admin_client.hpp"
#include "api_client.hpp"
#include "databases.hpp"

#include <support/eventually.hpp>
#include <support/process.hpp>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace {

using namespace std::chrono_literals;
using keel::test::Process;
using linkd::test::ApiClient;
using linkd::test::Backend;
using linkd::test::get;
using linkd::test::sample;
using linkd::test::TestDatabase;

const std::string kAdminKey = "lk_" + std::string(40, 'Q');

std::string run(const std::string& cmd, int* rc) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        out.append(buf, n);
    }
    int status = ::pclose(p);
    *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

class Observed : public ::testing::Test {
  protected:
    void SetUp() override {
        p_ = std::make_unique<Process>(std::vector<std::string>{
            LINKD_BINARY, "--server.port", "0", "--server.threads", "2", "--db.url", db_.url(), "--log.access", "false",
            "--admin.listen", "127.0.0.1:0", "--auth.admin_key", kAdminKey});
        port_ = p_->wait_port();
        admin_ = p_->wait_admin_port();
        ASSERT_GT(port_, 0) << p_->stderr_text();
        ASSERT_GT(admin_, 0) << p_->stderr_text();
        api_ = std::make_unique<ApiClient>(static_cast<std::uint16_t>(port_));
        ASSERT_EQ(
            api_->call("POST", "/v1/links", R"({"url":"https://example.com/","slug":"metered"})", kAdminKey).status,
            201);
    }
    void TearDown() override {
        p_->signal(SIGTERM);
        EXPECT_EQ(p_->wait(20s), 0) << p_->stderr_text();
    }
    TestDatabase db_{Backend::sqlite};
    std::unique_ptr<Process> p_;
    std::unique_ptr<ApiClient> api_;
    int port_ = 0;
    int admin_ = 0;
};

TEST_F(Observed, ScrapePassesPromtoolAndCountersMoveByTheRequestsSent) {
    std::string before = get(admin_, "/metrics");
    const std::string redirects = "keel_http_requests_total{method=\"GET\",route=\"/{slug}\",code=\"3xx\"}";
    const std::string misses = "keel_http_requests_total{method=\"GET\",route=\"/{slug}\",code=\"4xx\"}";
    const std::string durations = "keel_http_request_duration_seconds_count{method=\"GET\",route=\"/{slug}\"}";
    for (int i = 0; i < 25; ++i) {
        ASSERT_EQ(api_->call("GET", "/metered").status, 302);
    }
    for (int i = 0; i < 7; ++i) {
        ASSERT_EQ(api_->call("GET", "/unknown" + std::to_string(i)).status, 404);
    }
    int status = 0;
    std::string after = get(admin_, "/metrics", &status);
    ASSERT_EQ(status, 200);
    EXPECT_EQ(sample(after, redirects) - std::max(0.0, sample(before, redirects)), 25);
    EXPECT_EQ(sample(after, misses) - std::max(0.0, sample(before, misses)), 7);
    EXPECT_EQ(sample(after, durations) - std::max(0.0, sample(before, durations)), 32);
    EXPECT_EQ(sample(after, "linkd_redirects_total") - sample(before, "linkd_redirects_total"), 25);
    EXPECT_EQ(sample(after, "linkd_links_created_total"), 1);
    EXPECT_EQ(sample(after, "linkd_clicks_pending") + sample(after, "linkd_click_flush_duration_seconds_count") > 0,
              true);
    EXPECT_GT(sample(after, "process_resident_memory_bytes"), 1e6);
    EXPECT_GT(sample(after, "keel_connections_accepted_total{loop=\"0\"}") +
                  sample(after, "keel_connections_accepted_total{loop=\"1\"}"),
              32);
    EXPECT_EQ(sample(after, "keel_db_pool_max_open_connections{pool=\"sqlite_writer\"}"), 1);
    EXPECT_GE(sample(after, "keel_jobs_claimed_total"), 0);  // the jobs' families are exposed (promtool checks them)
    EXPECT_NE(after.find("# TYPE keel_jobs gauge"), std::string::npos);

    std::string file = ::testing::TempDir() + "/linkd_scrape_" + std::to_string(::getpid()) + ".txt";
    std::ofstream(file) << after;
    int rc = -1;
    std::string report = run("promtool check metrics < " + file, &rc);
    EXPECT_EQ(rc, 0) << report;
}

TEST_F(Observed, AdminEndpointsLiveOnlyOnTheAdminListener) {
    for (const char* path :
         {"/metrics", "/debug/vars", "/debug/pprof/", "/debug/pprof/profile?seconds=1", "/livez", "/debug/jobs"}) {
        int status = 0;
        get(port_, path, &status);
        EXPECT_EQ(status, 404) << "public port answers " << path;
    }
    int status = 0;
    get(admin_, "/livez", &status);
    EXPECT_EQ(status, 200);
    std::string ready = get(admin_, "/readyz?verbose", &status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(ready, R"({"status":"ready","checks":{"database":"ok"}})");
    std::string index = get(admin_, "/debug/pprof/", &status);
    EXPECT_EQ(status, 200);
    EXPECT_NE(index.find("google-pprof"), std::string::npos);

    std::string vars = get(admin_, "/debug/vars", &status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(vars.find(kAdminKey), std::string::npos) << "a secret leaked into /debug/vars";
    EXPECT_NE(vars.find("\"auth.admin_key\":\"[redacted]\""), std::string::npos) << vars.substr(0, 400);
    for (const char* part : {"\"git_commit\":", "\"compiler\":\"GNU", "\"loops\":[{\"index\":0", "\"pools\":{",
                             "\"sqlite_writer\":{\"max_open\":1", "\"workers\":{\"threads\":"}) {
        EXPECT_NE(vars.find(part), std::string::npos) << part << " not in " << vars.substr(0, 600);
    }
    get(admin_, "/debug/pprof/heap", &status);
    EXPECT_EQ(status, 501);  // this build has no tcmalloc, and says so

    // The jobs' page: the purge schedule's first tick (at start) is a job on the maintenance queue.
    std::string jobs;
    EXPECT_TRUE(keel::test::eventually([&] {
        jobs = get(admin_, "/debug/jobs", &status);
        return status == 200 && jobs.find("\"counts\":[{\"queue\":\"maintenance\"") != std::string::npos;
    })) << status
        << " " << jobs;
    EXPECT_NE(jobs.find("\"worker\":\""), std::string::npos) << jobs;
}

TEST_F(Observed, CpuProfileUnderLoadShowsKeelsOwnFunctions) {
    std::atomic<bool> stop{false};
    std::thread load([&] {
        keel::testing::RawClient c(static_cast<std::uint16_t>(port_));
        while (!stop) {
            if (!c.exchange("GET /metered HTTP/1.1\r\nHost: t\r\n\r\n")) {
                break;
            }
        }
    });
    std::string profile;
    std::thread taker([&] {
        int status = 0;
        profile = get(admin_, "/debug/pprof/profile?seconds=2", &status, 15000ms);
        EXPECT_EQ(status, 200);
    });
    ASSERT_TRUE(keel::test::eventually(
        [&] { return get(admin_, "/debug/pprof/").find("being taken now") != std::string::npos; }));
    int busy = 0;
    get(admin_, "/debug/pprof/profile?seconds=1", &busy);
    EXPECT_EQ(busy, 409);  // one at a time
    int bad = 0;
    get(admin_, "/debug/pprof/profile?seconds=999", &bad);
    EXPECT_EQ(bad, 400);  // over admin.max_profile
    taker.join();
    stop = true;
    load.join();
    ASSERT_GT(profile.size(), 100u);
    std::string file = ::testing::TempDir() + "/linkd_cpu_" + std::to_string(::getpid()) + ".prof";
    std::ofstream(file, std::ios::binary) << profile;
    int rc = -1;
    std::string text = run(std::string("google-pprof --text ") + LINKD_BINARY + " " + file, &rc);
    EXPECT_EQ(rc, 0) << text;
    // The top of the flat profile: keel's loop and HTTP code must be there.
    std::regex own("(keel::|linkd::)");
    EXPECT_TRUE(std::regex_search(text, own)) << text.substr(0, 2000);
    EXPECT_NE(text.find("Total:"), std::string::npos) << text.substr(0, 500);
    // The profiler's own statistics are a field of a log line, not a plain-text line among
    // the JSON ones (issue 15): every line of the log is a JSON object.
    ASSERT_TRUE(keel::test::eventually([&] {
        return p_->stderr_text().find("\"msg\":\"cpu profile taken\"") != std::string::npos;
    })) << p_->stderr_text();
    std::istringstream lines(p_->stderr_text());
    for (std::string line; std::getline(lines, line);) {
        EXPECT_TRUE(line.starts_with("{\"ts\":") && line.ends_with("}")) << "not a JSON log line: " << line;
    }
    EXPECT_NE(p_->stderr_text().find("\"profiler\":\"PROFILE: interrupts/evictions/bytes"), std::string::npos);
}

}  // namespace
