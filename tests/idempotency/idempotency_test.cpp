// keel::idempotency over real sockets, on SQLite (a temp dir) and a real PostgreSQL (initdb +
// pg_ctl in a temp dir): a repeat is replayed and does nothing, another body with the same key
// is 422, a repeat while the first runs is 409, transient answers and exceptions free the key,
// keys are per principal, method and path, a dead run's lock runs out, keys expire and are
// pruned, and bad headers are 400.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/core/worker_pool.hpp>
#include <keel/idempotency/middleware.hpp>
#include <keel/idempotency/postgres_store.hpp>
#include <keel/idempotency/sqlite_store.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/test_server.hpp>

#include <support/eventually.hpp>
#include <support/shared_postgres.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

namespace {

using namespace std::chrono_literals;
using keel::Task;
namespace idem = keel::idempotency;
using keel::http::Request;
using keel::http::Response;
using keel::testing::RawResponse;

std::atomic<idem::UnixMillis> g_now{1'000'000'000};
idem::UnixMillis fake_clock() {
    return g_now.load();
}

class Idempotency : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        if (GetParam() == "postgres") {
            pg_ = std::make_unique<keel::postgres::Database>(
                keel::db::PoolOptions{.max_open = 8},
                keel::postgres::ConnectOptions{.conninfo = keel::test::database_for_this_test("i_")});
            store_ = std::make_unique<idem::PostgresStore>(*pg_);
        } else {
            char tmpl[] = "/tmp/keel-idem-XXXXXX";
            dir_ = ::mkdtemp(tmpl);
            sqlite_ = std::make_unique<keel::sqlite::Database>(
                keel::sqlite::DatabaseOptions{.file = {.path = dir_ + "/keys.db"}});
            store_ = std::make_unique<idem::SqliteStore>(*sqlite_);
        }
        auto applied = lt_.block_on([&] { return store_->migrate(); });
        ASSERT_TRUE(applied) << applied.error().message();
        EXPECT_EQ(*applied, 1);
        g_now = 1'000'000'000;
    }

    void TearDown() override {
        server_.reset();
        store_.reset();
        if (sqlite_) {
            sqlite_->close();
        }
        if (pg_) {
            lt_.block_on([&]() -> Task<void> {
                pg_->close();
                co_return;
            });
        }
        if (!dir_.empty()) {
            std::filesystem::remove_all(dir_);
        }
    }

    // Serves POST /orders and POST /other behind the middleware: each run counted, answered 201
    // with a Location and the run's number, or what `answer` says for the run.
    void serve(idem::Options options = {}) {
        options.clock = fake_clock;
        options.principal = [](Request& req) -> std::optional<std::string> {
            auto user = req.header("X-User");
            return user ? std::optional<std::string>(std::string(*user)) : std::nullopt;
        };
        keel::router::Router r;
        auto handler = [this](Request& req) -> Task<Response> {
            int n = ++runs_;
            entered_ = true;
            if (hold_) {
                co_await keel::sleep_for(hold_for_);
            }
            if (answer_) {
                co_return answer_(n);
            }
            co_return Response::json("{\"run\":" + std::to_string(n) + ",\"body\":" + std::string(req.body()) + "}",
                                     201)
                .header("Location", "/orders/" + std::to_string(n));
        };
        r.with({idem::middleware(*store_, std::move(options))}).post("/orders", handler).post("/other", handler);
        server_ = std::make_unique<keel::testing::TestServer>(r.handler(), keel::testing::TestServer::default_options(),
                                                              &workers_);
    }

    RawResponse post(const std::string& body, const std::vector<std::string>& headers = {{"Idempotency-Key: \"k1\""}},
                     const std::string& path = "/orders", const std::string& user = "alice") {
        std::string req = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
        if (!user.empty()) {
            req += "X-User: " + user + "\r\n";
        }
        for (const auto& h : headers) {
            req += h + "\r\n";
        }
        req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        keel::testing::RawClient c(server_->port());
        auto res = c.exchange(req);
        EXPECT_TRUE(res) << "no answer to " << req;
        return res.value_or(RawResponse{});
    }

    keel::WorkerPool workers_{{.threads = 2, .queue_capacity = 1024}};
    keel::LoopThread lt_{&workers_};
    std::string dir_;
    std::unique_ptr<keel::sqlite::Database> sqlite_;
    std::unique_ptr<keel::postgres::Database> pg_;
    std::unique_ptr<idem::Store> store_;
    std::unique_ptr<keel::testing::TestServer> server_;
    std::atomic<int> runs_{0};
    std::atomic<bool> entered_{false}, hold_{false};
    keel::Duration hold_for_ = 500ms;
    std::function<Response(int)> answer_;
};

TEST_P(Idempotency, ARepeatGetsTheStoredResponseAndDoesNothingAgain) {
    serve();
    RawResponse first = post(R"({"item":1})");
    ASSERT_EQ(first.status, 201) << first.body;
    EXPECT_EQ(first.body, R"({"run":1,"body":{"item":1}})");
    EXPECT_EQ(first.header("Idempotent-Replayed"), std::nullopt);
    for (int i = 0; i < 3; ++i) {
        RawResponse again = post(R"({"item":1})");
        EXPECT_EQ(again.status, 201);
        EXPECT_EQ(again.body, first.body);
        EXPECT_EQ(again.header("Location"), "/orders/1");
        EXPECT_EQ(again.header("Content-Type"), "application/json");
        EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    }
    EXPECT_EQ(runs_, 1);
    // A bare token is a key too, and another key is another request.
    EXPECT_EQ(post(R"({"item":1})", {"Idempotency-Key: k2"}).body, R"({"run":2,"body":{"item":1}})");
    EXPECT_EQ(post(R"({"item":1})", {"Idempotency-Key: k2"}).header("Idempotent-Replayed"), "true");
    // No header: not idempotent, it runs every time.
    EXPECT_EQ(post(R"({"item":1})", {}).body, R"({"run":3,"body":{"item":1}})");
    EXPECT_EQ(post(R"({"item":1})", {}).body, R"({"run":4,"body":{"item":1}})");
}

TEST_P(Idempotency, TheSameKeyForAnotherRequestIs422) {
    serve();
    ASSERT_EQ(post(R"({"item":1})").status, 201);
    RawResponse other = post(R"({"item":2})");
    EXPECT_EQ(other.status, 422);
    EXPECT_EQ(other.header("Content-Type"), "application/problem+json");
    EXPECT_NE(other.body.find("used for a different request"), std::string::npos) << other.body;
    EXPECT_EQ(runs_, 1);
    EXPECT_EQ(post(R"({"item":1})").header("Idempotent-Replayed"), "true");  // the first is still kept
}

TEST_P(Idempotency, ARepeatWhileTheFirstRunsIs409) {
    serve();
    hold_ = true;
    auto first = std::async(std::launch::async, [&] { return post(R"({"item":1})"); });
    ASSERT_TRUE(keel::test::eventually([&] { return entered_.load(); }));
    RawResponse during = post(R"({"item":1})");
    EXPECT_EQ(during.status, 409);
    EXPECT_EQ(during.header("Retry-After"), "1");
    EXPECT_NE(during.body.find("still being processed"), std::string::npos) << during.body;
    RawResponse done = first.get();
    EXPECT_EQ(done.status, 201);
    RawResponse after = post(R"({"item":1})");
    EXPECT_EQ(after.body, done.body);
    EXPECT_EQ(after.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(runs_, 1);
}

TEST_P(Idempotency, TransientAnswersAndExceptionsFreeTheKey) {
    serve();
    answer_ = [](int n) {
        if (n == 1) {
            return Response::text("busy", 503);
        }
        if (n == 2) {
            throw std::runtime_error("the handler broke");
        }
        if (n == 3) {
            return Response::text("slow down", 429);
        }
        return Response::json("{\"ok\":true}", 201);
    };
    EXPECT_EQ(post("{}").status, 503);
    EXPECT_EQ(post("{}").status, 500);
    EXPECT_EQ(post("{}").status, 429);
    EXPECT_EQ(post("{}").status, 201);
    EXPECT_EQ(post("{}").header("Idempotent-Replayed"), "true");
    EXPECT_EQ(runs_, 4);
}

TEST_P(Idempotency, ClientErrorsAreStoredAndReplayedToo) {
    serve();
    answer_ = [](int) { return Response::json(R"({"title":"taken"})", 409); };
    EXPECT_EQ(post("{}").status, 409);
    RawResponse again = post("{}");
    EXPECT_EQ(again.status, 409);
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(runs_, 1);
}

TEST_P(Idempotency, KeysArePerPrincipalMethodAndPath) {
    serve();
    EXPECT_EQ(post("{}").body, R"({"run":1,"body":{}})");
    EXPECT_EQ(post("{}", {"Idempotency-Key: \"k1\""}, "/orders", "bob").body, R"({"run":2,"body":{}})");
    EXPECT_EQ(post("{}", {"Idempotency-Key: \"k1\""}, "/other").body, R"({"run":3,"body":{}})");
    EXPECT_EQ(post("{}", {"Idempotency-Key: \"k1\""}, "/orders", "bob").header("Idempotent-Replayed"), "true");
    // No principal: the middleware stands aside (authentication answers such requests).
    EXPECT_EQ(post("{}", {"Idempotency-Key: \"k1\""}, "/orders", "").body, R"({"run":4,"body":{}})");
    EXPECT_EQ(post("{}", {"Idempotency-Key: \"k1\""}, "/orders", "").body, R"({"run":5,"body":{}})");
}

TEST_P(Idempotency, AStuckRunsKeyIsTakenOverOnceItsLockRunsOut) {
    serve({.lock_timeout = 30s});
    hold_ = true;
    hold_for_ = 1500ms;
    auto stuck = std::async(std::launch::async, [&] { return post("{}"); });
    ASSERT_TRUE(keel::test::eventually([&] { return runs_.load() == 1; }));
    hold_ = false;
    EXPECT_EQ(post("{}").status, 409);
    g_now += 31'000;  // the lock ran out (as it does when the first run's process died)
    RawResponse taken = post("{}");
    EXPECT_EQ(taken.status, 201);
    EXPECT_EQ(taken.body, R"({"run":2,"body":{}})");
    RawResponse late = stuck.get();  // the first run ends after all: it lost the key, nothing is stored
    EXPECT_EQ(late.status, 201);
    EXPECT_EQ(late.body, R"({"run":1,"body":{}})");
    RawResponse replay = post("{}");
    EXPECT_EQ(replay.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(replay.body, R"({"run":2,"body":{}})");
    EXPECT_EQ(runs_, 2);
}

TEST_P(Idempotency, KeysExpireAfterTheirTtlAndArePruned) {
    serve({.ttl = 1h});
    ASSERT_EQ(post("{}").status, 201);
    g_now += 59 * 60'000;
    EXPECT_EQ(post("{}").header("Idempotent-Replayed"), "true");
    g_now += 2 * 60'000;
    EXPECT_EQ(post("{}").body, R"({"run":2,"body":{}})");  // expired: a new request
    auto pruned = lt_.block_on([&] { return store_->prune(g_now + 2 * 3'600'000); });
    ASSERT_TRUE(pruned);
    EXPECT_EQ(*pruned, 1);
    EXPECT_EQ(post("{}").body, R"({"run":3,"body":{}})");
}

TEST_P(Idempotency, BadHeadersAre400AndRequiredKeysMustBeThere) {
    serve({.required = true});
    for (const std::string& bad :
         std::vector<std::string>{"Idempotency-Key: \"\"", "Idempotency-Key: \"a\\qb\"", "Idempotency-Key: two words",
                                  "Idempotency-Key: \"unterminated", "Idempotency-Key: " + std::string(256, 'x')}) {
        RawResponse r = post("{}", {bad});
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_NE(r.body.find("Idempotency-Key"), std::string::npos) << r.body;
    }
    EXPECT_EQ(post("{}", {"Idempotency-Key: a", "Idempotency-Key: b"}).status, 400);
    RawResponse missing = post("{}", {});
    EXPECT_EQ(missing.status, 400);
    EXPECT_NE(missing.body.find("needs an Idempotency-Key"), std::string::npos) << missing.body;
    EXPECT_EQ(runs_, 0);
    EXPECT_EQ(post("{}", {"Idempotency-Key: \"" + std::string(255, 'x') + "\""}).status, 201);
}

INSTANTIATE_TEST_SUITE_P(Stores, Idempotency, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(IdempotencyKey, ParsesSfStringsAndBareTokens) {
    EXPECT_EQ(idem::parse_key("\"8e03978e-40d5-43e8-bc93-6894a57f9324\""), "8e03978e-40d5-43e8-bc93-6894a57f9324");
    EXPECT_EQ(idem::parse_key("  \"a b\"  "), "a b");
    EXPECT_EQ(idem::parse_key(R"("say \"hi\" \\ ok")"), R"(say "hi" \ ok)");
    EXPECT_EQ(idem::parse_key("tok_123.abc:~+/="), "tok_123.abc:~+/=");
    EXPECT_EQ(idem::parse_key(""), std::nullopt);
    EXPECT_EQ(idem::parse_key("\"\""), std::nullopt);
    EXPECT_EQ(idem::parse_key(R"("bad \n escape")"), std::nullopt);
    EXPECT_EQ(idem::parse_key("\"tab\tinside\""), std::nullopt);
    EXPECT_EQ(idem::parse_key("a,b"), std::nullopt);
    EXPECT_EQ(idem::parse_key("\"x"), std::nullopt);
    EXPECT_EQ(idem::parse_key(std::string(255, 'k')), std::string(255, 'k'));
    EXPECT_EQ(idem::parse_key(std::string(256, 'k')), std::nullopt);
}

}  // namespace
