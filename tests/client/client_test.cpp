// keel::client::Client against a real keel server on loopback: connection reuse, timeouts,
// retries only where they are safe, the response size limit, and request bodies and headers.
#include <keel/client/client.hpp>
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/test_server.hpp>

#include <support/latch.hpp>

#include <gtest/gtest.h>

#include <atomic>

namespace {

using namespace std::chrono_literals;
using keel::Task;
using keel::client::Client;
using keel::client::ClientRequest;
using keel::http::Request;
using keel::http::Response;

class ClientTest : public ::testing::Test {
  protected:
    ClientTest() {
        keel::router::Router r;
        r.get("/hello", [](Request&) { return Response::text("hi"); });
        r.get("/slow", [](Request& req) -> Task<Response> {
            co_await keel::sleep_for(500ms, req.stop_token());
            co_return Response::text("late");
        });
        r.handle("*", "/flaky", [this](Request&) {
            return ++flaky_calls_ <= fail_first_ ? Response::text("busy", 503) : Response::text("fine");
        });
        r.get("/big", [](Request&) { return Response::text(std::string(64 * 1024, 'x')); });
        r.get("/trace",
              [](Request& req) { return Response::text(std::string(req.header("traceparent").value_or(""))); });
        r.post("/echo", [](Request& req) {
            Response res = Response::text(std::string(req.body()));
            res.header("X-Seen", std::string(req.header("X-Token").value_or("none")));
            return res;
        });
        server_ = std::make_unique<keel::testing::TestServer>(r.handler());
    }
    std::string url(std::string_view path) const { return server_->url(path); }

    std::atomic<int> flaky_calls_{0};
    int fail_first_ = 2;
    std::unique_ptr<keel::testing::TestServer> server_;
    keel::LoopThread loop_;
};

TEST_F(ClientTest, SequentialRequestsReuseOneConnection) {
    Client client;
    for (int i = 0; i < 10; ++i) {
        auto r = loop_.block_on([&] { return client.get(url("/hello")); });
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "hi");
        EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8");
    }
    auto s = client.stats();
    EXPECT_EQ(s.requests, 10u);
    EXPECT_EQ(s.new_connections, 1u);
    EXPECT_EQ(s.reused_connections, 9u);
    EXPECT_EQ(server_->server().stats().connections_accepted, 1u);
}

TEST_F(ClientTest, TimeoutFailsTheRequestInTime) {
    Client client({.timeout = 100ms, .max_retries = 0});
    auto t0 = keel::Clock::now();
    auto r = loop_.block_on([&] { return client.get(url("/slow")); });
    auto took = keel::Clock::now() - t0;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), keel::Errc::timeout) << r.error().message();
    EXPECT_LT(took, 450ms);
    EXPECT_EQ(client.stats().failures, 1u);
}

TEST_F(ClientTest, IdempotentRequestsAreRetriedOthersAreNot) {
    Client client({.max_retries = 3, .retry_base = 5ms});
    auto get = loop_.block_on([&] { return client.get(url("/flaky")); });
    ASSERT_TRUE(get);
    EXPECT_EQ(get->status, 200);  // two 503s, then the answer
    EXPECT_EQ(client.stats().retries, 2u);
    flaky_calls_ = 0;
    auto post = loop_.block_on([&] { return client.send({.method = "POST", .url = url("/flaky"), .body = "x"}); });
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 503);  // a POST may have had effects: never repeated
    EXPECT_EQ(flaky_calls_, 1);
    flaky_calls_ = 0;
    auto marked = loop_.block_on(
        [&] { return client.send({.method = "POST", .url = url("/flaky"), .body = "x", .idempotent = true}); });
    EXPECT_EQ(marked->status, 200);  // unless the caller says it is safe
}

TEST_F(ClientTest, ConnectionRefusedIsUnavailableAfterRetries) {
    Client client({.max_retries = 2, .retry_base = 1ms});
    auto r = loop_.block_on([&] { return client.get("http://127.0.0.1:1/"); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), keel::Errc::unavailable) << r.error().message();
    EXPECT_EQ(client.stats().retries, 2u);
    EXPECT_EQ(client.stats().requests, 3u);
}

TEST_F(ClientTest, ResponsesOverTheLimitFail) {
    Client client({.max_response_bytes = 1024});
    auto r = loop_.block_on([&] { return client.get(url("/big")); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), keel::Errc::invalid_argument);
    EXPECT_NE(std::string(r.error().message()).find("larger than 1024 bytes"), std::string::npos);
    Client roomy;
    auto ok = loop_.block_on([&] { return roomy.get(url("/big")); });
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->body.size(), 64u * 1024);
}

TEST_F(ClientTest, SendsBodiesAndHeaders) {
    Client client;
    auto r = loop_.block_on([&] {
        return client.send({.method = "POST",
                            .url = url("/echo"),
                            .headers = {{"X-Token", "t0k"}, {"Content-Type", "text/plain"}},
                            .body = "payload"});
    });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "payload");
    EXPECT_EQ(r->header("X-Seen"), "t0k");
}

TEST_F(ClientTest, CarriesTheTraceOfTheCaller) {
    Client client;
    auto trace = keel::http::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    auto ours = keel::http::continue_trace(*trace);
    auto r = loop_.block_on([&] { return client.send({.url = url("/trace"), .trace = ours}); });
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "00-4bf92f3577b34da6a3ce929d0e0e4736-" + ours.span_id_hex() + "-01");
}

TEST_F(ClientTest, ManyConcurrentRequestsOnOneLoop) {
    Client client({.max_connections_per_host = 4});
    int ok = loop_.block_on([&]() -> Task<int> {
        int good = 0;
        keel::test::Latch done(40);
        for (int i = 0; i < 40; ++i) {
            keel::spawn(
                [](Client& c, std::string u, int& good, keel::test::Latch& done) -> Task<void> {
                    auto r = co_await c.get(std::move(u));
                    good += r && r->body == "hi";
                    done.count_down();
                }(client, url("/hello"), good, done),
                [](std::exception_ptr) {});
        }
        co_await done.wait();
        co_return good;
    });
    EXPECT_EQ(ok, 40);
    EXPECT_LE(client.stats().new_connections, 4u);
}

}  // namespace
