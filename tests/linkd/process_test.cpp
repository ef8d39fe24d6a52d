// linkd as a real process: the first-start admin key, `linkd keys create`, configuration
// errors, clicks pending at SIGTERM reaching the database, and PostgreSQL going away and
// coming back under a running linkd.
#include "admin_client.hpp"
#include "api_client.hpp"
#include "databases.hpp"

#include <keel/core/sleep.hpp>
#include <keel/sqlite/sqlite.hpp>

#include <support/eventually.hpp>
#include <support/process.hpp>
#include <support/redis_server.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace {

using namespace std::chrono_literals;
using keel::test::eventually;
using keel::test::Process;
using keel::test::read_file;
using linkd::test::ApiClient;
using linkd::test::Backend;
using linkd::test::metric;
using linkd::test::TestDatabase;

std::string key_in(const std::string& text) {
    std::smatch m;
    std::regex re("lk_[A-Za-z0-9]{40}");
    return std::regex_search(text, m, re) ? m[0].str() : "";
}

std::vector<std::string> linkd_args(const std::string& url, std::vector<std::string> more = {}) {
    std::vector<std::string> a = {LINKD_BINARY, "--server.port", "0",     "--server.threads", "2",          "--db.url",
                                  url,          "--log.access",  "false", "--admin.listen",   "127.0.0.1:0"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
}

/// Clicks recorded in the database for `slug` (total, and the sum of the per-day rows).
std::pair<std::int64_t, std::int64_t> stored_clicks(const TestDatabase& db, const std::string& slug) {
    if (db.backend() == Backend::postgres) {
        std::string total = db.psql("SELECT clicks FROM links WHERE slug = '" + slug + "'");
        std::string daily = db.psql(
            "SELECT coalesce(sum(d.clicks), 0) FROM clicks_daily d JOIN links l ON l.id = "
            "d.link_id WHERE l.slug = '" +
            slug + "'");
        return {std::stoll(total), std::stoll(daily)};
    }
    auto conn = keel::sqlite::Conn::open({.path = db.url().substr(9)});
    EXPECT_TRUE(conn);
    auto st = (*conn)->prepare(
        "SELECT l.clicks, (SELECT coalesce(sum(clicks), 0) FROM clicks_daily WHERE link_id = "
        "l.id) FROM links l WHERE slug = ?1");
    st->bind(1, slug);
    EXPECT_TRUE(*st->step());
    return {st->get<std::int64_t>(0), st->get<std::int64_t>(1)};
}

class LinkdProcess : public ::testing::TestWithParam<Backend> {
  protected:
    TestDatabase db_{GetParam()};
};

TEST_P(LinkdProcess, PrintsAnAdminKeyOnceAndCountsEveryClickBeforeSigterm) {
    std::string admin;
    {
        // A flush interval far away: every click is still pending when SIGTERM arrives.
        Process p(linkd_args(db_.url(), {"--clicks.flush_interval", "1h"}));
        int port = p.wait_port();
        ASSERT_GT(port, 0) << p.stderr_text();
        admin = key_in(p.stdout_text());
        ASSERT_FALSE(admin.empty()) << p.stdout_text();
        ApiClient api(static_cast<std::uint16_t>(port));
        ASSERT_EQ(api.call("POST", "/v1/links", R"({"url":"https://example.com/","slug":"counted"})", admin).status,
                  201);
        for (int i = 0; i < 50; ++i) {
            ASSERT_EQ(api.call("GET", "/counted").status, 302);
        }
        EXPECT_EQ(stored_clicks(db_, "counted").first, 0);  // not flushed yet
        p.signal(SIGTERM);
        EXPECT_EQ(p.wait(20s), 0) << p.stderr_text();
        EXPECT_NE(p.stderr_text().find("\"msg\":\"clicks flushed at shutdown\",\"clicks\":50"), std::string::npos)
            << p.stderr_text();
    }
    auto [total, daily] = stored_clicks(db_, "counted");
    EXPECT_EQ(total, 50);
    EXPECT_EQ(daily, 50);

    // Second start on the same database: no new key is printed, the old one still works.
    Process again(linkd_args(db_.url()));
    int port = again.wait_port();
    ASSERT_GT(port, 0) << again.stderr_text();
    EXPECT_EQ(key_in(again.stdout_text()), "");
    ApiClient api(static_cast<std::uint16_t>(port));
    auto stats = api.call("GET", "/v1/links/counted/stats", std::nullopt, admin);
    EXPECT_EQ(stats.status, 200);
    EXPECT_NE(stats.body.find("\"total_clicks\":50"), std::string::npos) << stats.body;
    again.signal(SIGTERM);
    EXPECT_EQ(again.wait(20s), 0);
}

TEST_P(LinkdProcess, KeysCreateCommandPrintsAWorkingKey) {
    Process cmd(
        {LINKD_BINARY, "keys", "create", "--admin", "--name", "ops", "--db.url", db_.url(), "--admin.listen", ""});
    ASSERT_EQ(cmd.wait(20s), 0) << cmd.stderr_text();
    std::string key = key_in(cmd.stdout_text());
    ASSERT_FALSE(key.empty()) << cmd.stdout_text();
    Process p(linkd_args(db_.url()));
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    EXPECT_EQ(key_in(p.stdout_text()), "");  // an admin key exists: none is created
    ApiClient api(static_cast<std::uint16_t>(port));
    EXPECT_EQ(api.call("POST", "/v1/keys", R"({"name":"x"})", key).status, 201);
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(20s), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, LinkdProcess, ::testing::Values(Backend::sqlite, Backend::postgres),
                         linkd::test::backend_name);

TEST(LinkdConfig, AnUnknownDatabaseSchemeExitsWith2) {
    Process p({LINKD_BINARY, "--db.url", "mysql://x"});
    EXPECT_EQ(p.wait(10s), 2);
    EXPECT_NE(p.stderr_text().find("db.url: must start with sqlite:// or postgres://"), std::string::npos)
        << p.stderr_text();
}

TEST(LinkdFaults, PostgresGoingAwayGives503AndLinkdRecoversByItself) {
    TestDatabase db(Backend::postgres);
    Process p(linkd_args(db.url(), {"--db.acquire_timeout", "1s", "--db.query_timeout", "2s", "--cache.ttl", "1h"}));
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    std::string admin = key_in(p.stdout_text());
    ApiClient api(static_cast<std::uint16_t>(port));
    ASSERT_EQ(api.call("POST", "/v1/links", R"({"url":"https://example.com/","slug":"warm"})", admin).status, 201);
    ASSERT_EQ(api.call("GET", "/warm").status, 302);  // now cached

    linkd::test::postgres_server().stop();
    auto t0 = std::chrono::steady_clock::now();
    auto down = api.call("POST", "/v1/links", R"({"url":"https://example.com/","slug":"during"})", admin);
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(down.status, 503) << down.body;
    EXPECT_EQ(down.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(down.header("Retry-After"), "1");
    EXPECT_LT(took, 2500ms);  // the acquire timeout (1 s) plus slack, never a hang
    EXPECT_EQ(api.call("GET", "/readyz").status, 503);
    EXPECT_EQ(api.call("GET", "/warm").status, 302);  // the hot path keeps serving from memory
    EXPECT_EQ(api.call("GET", "/healthz").status, 200);

    linkd::test::postgres_server().start();
    int status = 0;
    EXPECT_TRUE(keel::test::eventually(
        [&] {
            status = api.call("POST", "/v1/links", R"({"url":"https://example.com/","slug":"after"})", admin).status;
            return status == 201;
        },
        10s))
        << status;  // recovered without a restart
    EXPECT_EQ(api.call("GET", "/readyz").status, 200);
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(20s), 0) << p.stderr_text();
}

}  // namespace

namespace {

TEST(LinkdReadme, TheCurlSessionRunsAsWritten) {
    std::string script_path = std::string(KEEL_SOURCE_DIR_PATH) + "/services/linkd/examples/session.sh";
    std::string script = read_file(script_path);
    ASSERT_FALSE(script.empty());
    EXPECT_NE(read_file(std::string(KEEL_SOURCE_DIR_PATH) + "/README.md").find("```sh\n" + script + "```"),
              std::string::npos)
        << "README.md must show services/linkd/examples/session.sh verbatim";
    TestDatabase db(Backend::sqlite);
    Process p(linkd_args(db.url()));
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    std::string admin = key_in(p.stdout_text());
    Process session({"/bin/bash", "-c",
                     "ADMIN=" + admin + " LINKD=http://127.0.0.1:" + std::to_string(port) + " bash " + script_path});
    ASSERT_EQ(session.wait(20s), 0) << session.stderr_text();
    std::string out = session.stdout_text();
    EXPECT_NE(out.find("\"slug\":\"bookworm\",\"url\":\"https://www.debian.org/releases/bookworm/\""),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("302 https://www.debian.org/releases/bookworm/\n"), std::string::npos) << out;
    EXPECT_NE(out.find("{\"slug\":\"bookworm\",\"total_clicks\":1,\"days\":[{\"date\":"), std::string::npos) << out;
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(20s), 0);
}

}  // namespace

namespace {

// Receives webhooks: refuses them (503) while `down`, else records each event id by slug.
struct WebhookReceiver {
    std::mutex mu;
    std::map<std::string, std::set<std::string>> ids_by_slug;
    std::atomic<bool> down{false};
    std::atomic<int> accepted{0};
    keel::Duration delay = keel::Duration::zero();
    keel::testing::TestServer server{[this](keel::http::Request& req) -> keel::Task<keel::http::Response> {
        if (delay > keel::Duration::zero()) {
            co_await keel::sleep_for(delay);  // a slow receiver
        }
        if (down) {
            co_return keel::http::Response(503);
        }
        std::string body(req.body());
        std::size_t at = body.find("\"slug\":\"");
        std::string slug = body.substr(at + 8, body.find('"', at + 8) - at - 8);
        std::lock_guard lock(mu);
        ids_by_slug[slug].insert(std::string(req.header("X-Linkd-Delivery").value_or("")));
        ++accepted;
        co_return keel::http::Response(204);
    }};
    bool has_all(const std::set<std::string>& slugs) {
        std::lock_guard lock(mu);
        return std::all_of(slugs.begin(), slugs.end(), [&](const std::string& s) { return ids_by_slug.count(s) > 0; });
    }
};

std::string create_link_request(int port, const std::string& key, const std::string& slug) {
    std::string body = "{\"url\":\"https://example.com/\",\"slug\":\"" + slug + "\"}";
    return "POST /v1/links HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nAuthorization: Bearer " + key +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(LinkdWebhooks, EventsLeftAtSigtermAreDeliveredAfterTheRestart) {
    WebhookReceiver receiver;
    receiver.delay = std::chrono::milliseconds(300);
    TestDatabase db(Backend::sqlite);
    auto args = linkd_args(db.url(), {"--webhook.url", receiver.server.url("/hooks"), "--webhook.secret", "k",
                                      "--webhook.concurrency", "2", "--webhook.drain_timeout", "20s"});
    auto p = std::make_unique<Process>(args);
    int port = p->wait_port();
    ASSERT_GT(port, 0) << p->stderr_text();
    std::string admin = key_in(p->stdout_text());
    ApiClient api(static_cast<std::uint16_t>(port));
    std::set<std::string> slugs;
    for (int i = 0; i < 6; ++i) {
        std::string slug = "hook" + std::to_string(i);
        ASSERT_EQ(
            api.call("POST", "/v1/links", "{\"url\":\"https://example.com/\",\"slug\":\"" + slug + "\"}", admin).status,
            201);
        slugs.insert(slug);
    }
    p->signal(SIGTERM);  // at once: the deliveries running finish, the rest stay queued
    EXPECT_EQ(p->wait(30s), 0) << p->stderr_text();
    EXPECT_NE(p->stderr_text().find("\"msg\":\"jobs at shutdown\""), std::string::npos) << p->stderr_text();
    int before_restart = receiver.accepted;
    EXPECT_LT(before_restart, 6);  // two at a time, 300 ms each: not all before the exit
    p = std::make_unique<Process>(args);
    ASSERT_GT(p->wait_port(), 0) << p->stderr_text();
    EXPECT_TRUE(keel::test::eventually([&] { return receiver.has_all(slugs); }, 20s));
    std::lock_guard lock(receiver.mu);
    for (const auto& [slug, ids] : receiver.ids_by_slug) {
        EXPECT_EQ(ids.size(), 1u) << slug;  // one event id, however often delivered
    }
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait(30s), 0);
}

// The crash the jobs module exists for: linkd SIGKILLed twice while four clients create links
// and its webhook receiver is down. Once the receiver is back, every acknowledged link has had
// its link.created delivered, under one event id.
void no_event_lost_to_sigkills(Backend backend) {
    WebhookReceiver receiver;
    receiver.down = true;
    TestDatabase db(backend);
    auto args = linkd_args(db.url(), {"--webhook.url", receiver.server.url("/hooks"), "--webhook.secret", "k",
                                      "--webhook.retry_base", "20ms", "--webhook.retry_max", "200ms",
                                      "--webhook.max_attempts", "100", "--jobs.lease", "1s", "--jobs.poll", "100ms"});
    std::mutex mu;
    std::set<std::string> acknowledged;
    std::string admin;
    std::unique_ptr<Process> p;
    for (int round = 0; round < 3; ++round) {
        p = std::make_unique<Process>(args);
        int port = p->wait_port();
        ASSERT_GT(port, 0) << p->stderr_text();
        if (round == 0) {
            admin = key_in(p->stdout_text());
        }
        std::atomic<bool> enough{false};
        std::atomic<int> made{0};
        std::vector<std::thread> clients;
        for (int c = 0; c < 4; ++c) {
            clients.emplace_back([&, c] {
                for (int i = 0; !enough; ++i) {
                    std::string slug = "r" + std::to_string(round) + "c" + std::to_string(c) + "n" + std::to_string(i);
                    keel::testing::RawClient client(static_cast<std::uint16_t>(port));
                    auto res = client.exchange(create_link_request(port, admin, slug));
                    if (!res) {
                        return;  // killed: what was not answered was not acknowledged
                    }
                    if (res->status == 201) {
                        std::lock_guard lock(mu);
                        acknowledged.insert(slug);
                        ++made;
                    }
                }
            });
        }
        ASSERT_TRUE(keel::test::eventually([&] { return made >= 40; }, 20s));
        if (round < 2) {
            p->signal(SIGKILL);  // mid-stream: clients are still creating links
            EXPECT_EQ(p->wait(10s), 128 + SIGKILL);
        }
        enough = true;
        for (auto& t : clients) {
            t.join();
        }
    }
    receiver.down = false;
    EXPECT_TRUE(keel::test::eventually([&] { return receiver.has_all(acknowledged); }, 60s))
        << acknowledged.size() << " acknowledged";
    std::lock_guard lock(receiver.mu);
    for (const std::string& slug : acknowledged) {
        EXPECT_EQ(receiver.ids_by_slug[slug].size(), 1u) << slug;
    }
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait(30s), 0);
}

TEST(LinkdWebhooks, NoAcknowledgedEventIsLostToSigkillsOnSqlite) {
    no_event_lost_to_sigkills(Backend::sqlite);
}

TEST(LinkdWebhooks, NoAcknowledgedEventIsLostToSigkillsOnPostgres) {
    no_event_lost_to_sigkills(Backend::postgres);
}

// Issue 27: a periodic job (linkd's purge, every 500 ms) across three instances on one
// PostgreSQL is enqueued exactly once per tick, with no tick missed, while instances are
// SIGKILLed and restarted. There is no leader to lose: each tick is one conditional row update.
TEST(LinkdJobs, APeriodicJobRunsOncePerTickAcrossThreeInstancesWhileTheyAreKilled) {
    TestDatabase db(Backend::postgres);
    const std::string admin = "lk_" + std::string(40, 'P');
    auto args = linkd_args(db.url(), {"--auth.admin_key", admin, "--links.purge_interval", "500ms", "--jobs.lease",
                                      "1s", "--jobs.poll", "100ms"});
    std::vector<std::unique_ptr<Process>> instances;
    for (int i = 0; i < 3; ++i) {
        instances.push_back(std::make_unique<Process>(args));
        ASSERT_GT(instances.back()->wait_port(), 0) << instances.back()->stderr_text();
    }
    const std::string of_purge = "FROM keel_jobs WHERE kind = 'links.purge_expired'";
    auto ticks = [&] {
        std::string n = db.psql("SELECT count(*) " + of_purge);
        return n.empty() ? 0 : std::stoi(n);
    };
    for (int victim : {0, 1, 2, 0}) {
        int before = ticks();
        ASSERT_TRUE(keel::test::eventually([&] { return ticks() >= before + 3; }, 20s));
        instances[victim]->signal(SIGKILL);
        EXPECT_EQ(instances[victim]->wait(10s), 128 + SIGKILL);
        ASSERT_TRUE(keel::test::eventually([&] { return ticks() >= before + 5; }, 20s));  // the other two go on
        instances[victim] = std::make_unique<Process>(args);
        ASSERT_GT(instances[victim]->wait_port(), 0) << instances[victim]->stderr_text();
    }
    // Every tick's job has run (a killed instance's claim was taken over after its lease).
    EXPECT_TRUE(keel::test::eventually(
        [&] {
            return db.psql("SELECT count(*) " + of_purge + " AND state <> 'completed' AND id < (SELECT max(id) - 3 " +
                           of_purge + ")") == "0";
        },
        20s));
    for (auto& p : instances) {
        p->signal(SIGTERM);
    }
    for (auto& p : instances) {
        EXPECT_EQ(p->wait(20s), 0) << p->stderr_text();
    }
    // The ticks: consecutive multiples of 500 ms, each enqueued once.
    std::istringstream rows(db.psql("SELECT split_part(unique_key, '@', 2) " + of_purge + " ORDER BY id"));
    std::vector<std::int64_t> seen;
    for (std::string line; std::getline(rows, line);) {
        seen.push_back(std::stoll(line));
    }
    ASSERT_GE(seen.size(), 20u);
    for (std::size_t i = 1; i < seen.size(); ++i) {
        EXPECT_EQ(seen[i] - seen[i - 1], 500) << "tick " << i << " of " << seen.size();
    }
}

}  // namespace

namespace {

/// An instance on `db` sharing `redis`, with `admin` as its admin key and no redirect limit.
std::vector<std::string> with_redis(const TestDatabase& db, const keel::test::RedisServer& redis,
                                    const std::string& admin, std::vector<std::string> more) {
    std::vector<std::string> a = {"--redis.url",
                                  "redis://127.0.0.1:" + std::to_string(redis.port()),
                                  "--auth.admin_key",
                                  admin,
                                  "--ratelimit.redirect_per_second",
                                  "0"};
    a.insert(a.end(), more.begin(), more.end());
    return linkd_args(db.url(), std::move(a));
}

TEST(LinkdRedis, TwoInstancesShareOneLimitAndFailOpenWhenRedisIsDown) {
    keel::test::RedisServer redis;
    TestDatabase db(Backend::sqlite);
    const std::string admin = "lk_" + std::string(40, 'R');
    auto args = [&] {
        return with_redis(db, redis, admin, {"--ratelimit.create_burst", "5", "--ratelimit.create_per_minute", "1"});
    };
    Process a(args());
    int pa = a.wait_port();
    ASSERT_GT(pa, 0) << a.stderr_text();
    Process b(args());
    int pb = b.wait_port();
    ASSERT_GT(pb, 0) << b.stderr_text();
    ApiClient api_a(static_cast<std::uint16_t>(pa)), api_b(static_cast<std::uint16_t>(pb));
    int created = 0, limited = 0;
    for (int i = 0; i < 12; ++i) {
        auto& api = i % 2 ? api_b : api_a;
        int status = api.call("POST", "/v1/links",
                              "{\"url\":\"https://example.com/\",\"slug\":\"shared" + std::to_string(i) + "\"}", admin)
                         .status;
        created += status == 201;
        limited += status == 429;
    }
    EXPECT_EQ(created, 5);  // the burst, across both instances
    EXPECT_EQ(limited, 7);

    redis.stop();
    int status = api_a.call("POST", "/v1/links", R"({"url":"https://example.com/","slug":"while-down"})", admin).status;
    EXPECT_EQ(status, 201);  // fails open by default: Redis down does not take creation down
    EXPECT_EQ(metric(a.wait_admin_port(), "linkd_ratelimit_redis_unavailable_total{fail_open=\"true\"}"), 1);
    a.signal(SIGTERM);
    b.signal(SIGTERM);
    EXPECT_EQ(a.wait(20s), 0) << a.stderr_text();
    EXPECT_EQ(b.wait(20s), 0) << b.stderr_text();
}

// Issue 15: with a password in redis.url, limits failed open silently and /debug/vars showed
// the password. Now the limit holds (AUTH is sent), the URL is redacted everywhere, a wrong
// password is logged once as failing open, and rediss:// is a configuration error.
TEST(LinkdRedis, APasswordInTheUrlIsUsedAndNeverShown) {
    keel::test::RedisServer redis("pw-Zq81");
    TestDatabase db(Backend::sqlite);
    const std::string admin = "lk_" + std::string(40, 'P');
    const std::string url = "redis://:pw-Zq81@127.0.0.1:" + std::to_string(redis.port()) + "/1";
    Process p(linkd_args(db.url(), {"--redis.url", url, "--auth.admin_key", admin, "--ratelimit.create_burst", "3",
                                    "--ratelimit.create_per_minute", "1", "--ratelimit.redirect_per_second", "0"}));
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    ApiClient api(static_cast<std::uint16_t>(port));
    int created = 0, limited = 0;
    for (int i = 0; i < 6; ++i) {
        int status = api.call("POST", "/v1/links",
                              "{\"url\":\"https://example.com/\",\"slug\":\"pw" + std::to_string(i) + "\"}", admin)
                         .status;
        created += status == 201;
        limited += status == 429;
    }
    EXPECT_EQ(created, 3);  // the limit holds: Redis decided
    EXPECT_EQ(limited, 3);
    int admin_port = p.wait_admin_port();
    EXPECT_EQ(metric(admin_port, "linkd_ratelimit_redis_unavailable_total{fail_open=\"true\"}"), 0);
    std::string vars = linkd::test::get(admin_port, "/debug/vars");
    EXPECT_EQ(vars.find("pw-Zq81"), std::string::npos) << vars;
    EXPECT_NE(vars.find("redis://:[redacted]@127.0.0.1"), std::string::npos) << vars;
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(20s), 0) << p.stderr_text();
    EXPECT_EQ(p.stderr_text().find("pw-Zq81"), std::string::npos);

    // A wrong password: the limit fails open, and the log says so once (not per request).
    Process wrong(linkd_args(db.url(), {"--redis.url", "redis://:nope@127.0.0.1:" + std::to_string(redis.port()),
                                        "--auth.admin_key", admin, "--ratelimit.redirect_per_second", "0"}));
    int wport = wrong.wait_port();
    ASSERT_GT(wport, 0) << wrong.stderr_text();
    ApiClient wapi(static_cast<std::uint16_t>(wport));
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(wapi.call("POST", "/v1/links",
                            "{\"url\":\"https://example.com/\",\"slug\":\"open" + std::to_string(i) + "\"}", admin)
                      .status,
                  201);
    }
    ASSERT_TRUE(keel::test::eventually([&] {
        return wrong.stderr_text().find("rate limits are failing open") != std::string::npos;
    })) << wrong.stderr_text();
    std::string log = wrong.stderr_text();
    EXPECT_EQ(log.find("rate limits are failing open"), log.rfind("rate limits are failing open"));
    EXPECT_EQ(log.find("nope@"), std::string::npos);
    wrong.signal(SIGTERM);
    EXPECT_EQ(wrong.wait(20s), 0) << wrong.stderr_text();

    Process tls(linkd_args(db.url(), {"--redis.url", "rediss://:secret@127.0.0.1:6380"}));
    EXPECT_EQ(tls.wait(10s), 2);
    EXPECT_NE(
        tls.stderr_text().find("redis.url = \"rediss://:[redacted]@127.0.0.1:6380\": rediss:// (TLS) is not supported"),
        std::string::npos)
        << tls.stderr_text();
}

/// An instance's /readyz?verbose: status and body.
std::pair<int, std::string> readiness(int admin_port) {
    int status = 0;
    std::string body = linkd::test::get(admin_port, "/readyz?verbose", &status);
    return {status, body};
}

/// Where `slug` redirects to on `api` ("404" when it does not).
std::string target_of(ApiClient& api, const std::string& slug) {
    auto r = api.call("GET", "/" + slug);
    return r.status == 302 ? r.header("Location").value_or("?") : std::to_string(r.status);
}

TEST(LinkdRedis, ChangesAndRevocationsReachEveryInstanceAndRedisOutagesAreRidden) {
    keel::test::RedisServer redis;
    TestDatabase db(Backend::sqlite);
    const std::string admin = "lk_" + std::string(40, 'C');
    // A long TTL: only an invalidation can make an instance forget a cached slug in this test.
    auto args = [&] {
        return with_redis(db, redis, admin,
                          {"--cache.ttl", "1h", "--cache.negative_ttl", "1h", "--auth.cache_ttl", "1h"});
    };
    Process a(args()), b(args());
    int pa = a.wait_port(), pb = b.wait_port();
    ASSERT_GT(pa, 0) << a.stderr_text();
    ASSERT_GT(pb, 0) << b.stderr_text();
    int admin_a = a.wait_admin_port(), admin_b = b.wait_admin_port();
    ApiClient api_a(static_cast<std::uint16_t>(pa)), api_b(static_cast<std::uint16_t>(pb));
    ASSERT_TRUE(eventually([&] { return metric(admin_b, "linkd_cache_subscribed") == 1; }));

    // A slug B has cached as missing is created on A: B forgets its negative entry.
    EXPECT_EQ(target_of(api_b, "moving"), "404");
    ASSERT_EQ(api_a.call("POST", "/v1/links", R"({"url":"https://example.com/v1","slug":"moving"})", admin).status,
              201);
    EXPECT_TRUE(eventually([&] { return target_of(api_b, "moving") == "https://example.com/v1"; }));
    EXPECT_EQ(target_of(api_a, "moving"), "https://example.com/v1");

    // Changed on A: B's memory drops the old target.
    ASSERT_EQ(api_a
                  .call("PATCH", "/v1/links/moving", R"({"url":"https://example.com/v2"})", admin, {},
                        "application/merge-patch+json")
                  .status,
              200);
    EXPECT_TRUE(eventually([&] { return target_of(api_b, "moving") == "https://example.com/v2"; }));
    EXPECT_GE(metric(admin_b, "linkd_cache_invalidations_received_total"), 2);

    // Deleted on B: A stops redirecting.
    ASSERT_EQ(target_of(api_a, "moving"), "https://example.com/v2");
    ASSERT_EQ(api_b.call("DELETE", "/v1/links/moving", std::nullopt, admin).status, 204);
    EXPECT_TRUE(eventually([&] { return target_of(api_a, "moving") == "404"; }));

    // Redis killed: cached slugs are served from memory, others from the database.
    ASSERT_EQ(api_a.call("POST", "/v1/links", R"({"url":"https://example.com/kept","slug":"kept"})", admin).status,
              201);
    EXPECT_TRUE(eventually([&] { return target_of(api_b, "kept") == "https://example.com/kept"; }));
    EXPECT_EQ(readiness(admin_b),
              std::pair(200, std::string(R"({"status":"ready","checks":{"database":"ok","redis":"ok"}})")));
    redis.stop();
    ASSERT_TRUE(eventually([&] { return metric(admin_b, "linkd_cache_subscribed") == 0; }));
    auto [status, ready] = readiness(admin_b);
    EXPECT_EQ(status, 200) << ready;  // Redis is optional: still ready, and says what is missing
    EXPECT_NE(ready.find(R"("redis":"redis: unavailable)"), std::string::npos) << ready;
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(target_of(api_b, "kept"), "https://example.com/kept");
    }
    ASSERT_EQ(
        api_a.call("POST", "/v1/links", R"({"url":"https://example.com/down","slug":"made-while-down"})", admin).status,
        201);  // the database takes writes; the announcement waits for Redis
    EXPECT_EQ(target_of(api_b, "made-while-down"), "https://example.com/down");  // B had never cached it
    EXPECT_EQ(metric(admin_a, "linkd_cache_invalidations_pending"), 1);
    EXPECT_GE(metric(admin_b, "linkd_shared_cache_errors_total"), 1);

    // While Redis is down, an update on A cannot be announced: B still has the old target.
    // When Redis comes back, B resubscribes and forgets its memory (it may have missed
    // announcements), and A announces what it could not.
    ASSERT_EQ(api_a
                  .call("PATCH", "/v1/links/kept", R"({"url":"https://example.com/kept2"})", admin, {},
                        "application/merge-patch+json")
                  .status,
              200);
    EXPECT_EQ(target_of(api_b, "kept"), "https://example.com/kept");
    EXPECT_EQ(metric(admin_a, "linkd_cache_invalidations_pending"), 2);
    redis.start();
    ASSERT_TRUE(eventually([&] { return metric(admin_b, "linkd_cache_subscribed") == 1; }, 10s));
    EXPECT_EQ(metric(admin_b, "linkd_cache_resyncs_total"), 2);
    EXPECT_EQ(target_of(api_b, "kept"), "https://example.com/kept2");
    EXPECT_TRUE(eventually([&] { return metric(admin_a, "linkd_cache_invalidations_pending") == 0; }, 10s));

    // And announcements flow again.
    ASSERT_EQ(api_a
                  .call("PATCH", "/v1/links/kept", R"({"url":"https://example.com/kept3"})", admin, {},
                        "application/merge-patch+json")
                  .status,
              200);
    EXPECT_TRUE(eventually([&] { return target_of(api_b, "kept") == "https://example.com/kept3"; }));
    EXPECT_EQ(metric(admin_a, "linkd_cache_invalidations_dropped_total"), 0);

    // A key revoked on A stops working on B at once, though B verified it a moment ago.
    auto made = api_a.call("POST", "/v1/keys", R"({"name":"short-lived"})", admin);
    ASSERT_EQ(made.status, 201) << made.body;
    std::string key = key_in(made.body);
    std::smatch id;
    ASSERT_TRUE(std::regex_search(made.body, id, std::regex("\"id\":([0-9]+)")));
    ASSERT_EQ(api_b.call("GET", "/v1/links", std::nullopt, key).status, 200);
    ASSERT_EQ(api_a.call("DELETE", "/v1/keys/" + id[1].str(), std::nullopt, admin).status, 204);
    EXPECT_TRUE(eventually([&] { return api_b.call("GET", "/v1/links", std::nullopt, key).status == 401; }));

    a.signal(SIGTERM);
    b.signal(SIGTERM);
    EXPECT_EQ(a.wait(20s), 0) << a.stderr_text();
    EXPECT_EQ(b.wait(20s), 0) << b.stderr_text();
}

TEST(LinkdRedis, WithoutMemoryTheSharedCacheAnswersAndTheDatabaseIsAskedOnce) {
    keel::test::RedisServer redis;
    TestDatabase db(Backend::sqlite);
    const std::string admin = "lk_" + std::string(40, 'M');
    Process p(with_redis(db, redis, admin, {"--cache.memory", "false"}));
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    int admin_port = p.wait_admin_port();
    ApiClient api(static_cast<std::uint16_t>(port));
    ASSERT_EQ(api.call("POST", "/v1/links", R"({"url":"https://example.com/r","slug":"from-redis"})", admin).status,
              201);
    for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(target_of(api, "from-redis"), "https://example.com/r");
        ASSERT_EQ(target_of(api, "never-made"), "404");
    }
    EXPECT_EQ(metric(admin_port, "linkd_shared_cache_misses_total"), 2);  // the first of each: the database
    EXPECT_EQ(metric(admin_port, "linkd_shared_cache_hits_total"), 18);
    EXPECT_EQ(metric(admin_port, "linkd_cache_hits_total"), 0);  // memory is off
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(20s), 0) << p.stderr_text();
}

}  // namespace
