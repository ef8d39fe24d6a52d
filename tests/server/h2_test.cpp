// HTTP/2 (h2c with prior knowledge) through the same handlers as HTTP/1.1: real clients (curl,
// h2load) for what works, crafted frames (tests/server/h2_probe.py, Debian's python3-h2 and
// hyperframe) for every limit and attack the server must survive.
#include <keel/core/sleep.hpp>
#include <keel/testing/test_server.hpp>
#include <keel/web/sse.hpp>

#include "support/eventually.hpp"
#include "support/run_command.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

using keel::http::Request;
using keel::http::Response;
using keel::server::ServerOptions;
using keel::testing::TestServer;
using namespace std::chrono_literals;

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
        s.pop_back();
    }
    return s;
}

std::string probe(std::uint16_t port, const std::string& scenario, const std::string& arg = "") {
    return trim(keel::test::run("/usr/bin/python3 " KEEL_H2_PROBE " " + std::to_string(port) + " " + scenario + " " +
                                arg + " 2>&1"));
}

std::string curl_h2(std::uint16_t port, const std::string& path, const std::string& extra = "") {
    return keel::test::run("curl -s --http2-prior-knowledge " + extra + " http://127.0.0.1:" + std::to_string(port) +
                           path);
}

ServerOptions h2c_options() {
    ServerOptions o = TestServer::default_options();
    o.h2c = true;
    o.limits.max_body_bytes = 100 * 1000;
    return o;
}

// Handlers waiting now, and the most there ever were (one loop thread: no race).
std::atomic<int> waiting{0};
std::atomic<int> most_waiting{0};

// The routes the scenarios use.
keel::http::Outcome routes(Request& req) {
    std::string_view p = req.path();
    if (p == "/wait" || p == "/slow") {
        keel::Duration d = p == "/wait" ? keel::Duration(300ms) : keel::Duration(1s);
        return [](keel::Duration d, keel::StopToken stop) -> keel::Task<Response> {
            most_waiting = std::max(most_waiting.load(), ++waiting);
            co_await keel::sleep_for(d, stop);
            --waiting;
            co_return Response::text("slow");
        }(d, req.stop_token());
    }
    if (p == "/k64") {
        return Response::text(std::string(64 * 1024, 'k'));
    }
    if (p == "/big") {
        return Response::text(std::string(1 << 20, 'z'));
    }
    if (p == "/echo") {
        return Response::text(std::string(req.protocol()) + " " + std::string(req.method_name()) + " " +
                              std::string(req.host()) + " " + std::string(req.body()));
    }
    if (p == "/events") {
        return keel::web::sse([](keel::web::SseWriter& out) -> keel::Task<void> {
            for (int i = 1; i <= 3; ++i) {
                co_await out.send({.id = std::to_string(i), .data = "tick"});
            }
        });
    }
    return Response::text("hello");
}

}  // namespace

TEST(H2, CurlGetsTheSameHandlersOverH2cWithPriorKnowledge) {
    TestServer srv(routes, h2c_options());
    EXPECT_EQ(curl_h2(srv.port(), "/", "-w ' %{http_version} %{http_code}'"), "hello 2 200");
    EXPECT_EQ(curl_h2(srv.port(), "/echo?x=1", "-d 'a body'"),
              "HTTP/2 POST 127.0.0.1:" + std::to_string(srv.port()) + " a body");
    // HEAD: the length of the body that is not sent.
    std::string head = curl_h2(srv.port(), "/big", "-I");
    EXPECT_NE(head.find("content-length: 1048576"), std::string::npos) << head;
    EXPECT_NE(head.find("date: "), std::string::npos) << head;
    // A 1 MiB body crosses many flow-control windows.
    EXPECT_EQ(curl_h2(srv.port(), "/big", "-o /dev/null -w '%{size_download}'"), "1048576");
    // Streamed responses (SSE) end with the stream.
    EXPECT_EQ(curl_h2(srv.port(), "/events"), "id: 1\ndata: tick\n\nid: 2\ndata: tick\n\nid: 3\ndata: tick\n\n");
    // HTTP/1.1 still works on the same port.
    EXPECT_EQ(keel::test::run("curl -s -w ' %{http_version}' " + srv.url("/echo")),
              "HTTP/1.1 GET 127.0.0.1:" + std::to_string(srv.port()) + "  1.1");
}

TEST(H2, NghttpGetsConcurrentStreamsOnOneConnection) {
    TestServer srv(routes, h2c_options());
    most_waiting = 0;
    // -m 8: the same request eight times, concurrently, on one connection; -s: per-stream stats.
    std::string out =
        keel::test::run("nghttp -n -s -m 8 http://127.0.0.1:" + std::to_string(srv.port()) + "/wait 2>&1");
    std::size_t answered = 0;
    for (std::size_t at = out.find(" 200 "); at != std::string::npos; at = out.find(" 200 ", at + 1)) {
        ++answered;
    }
    EXPECT_EQ(answered, 8u) << out;
    // Concurrent, not one after another: all eight were waiting at once.
    EXPECT_EQ(most_waiting.load(), 8) << out;
}

TEST(H2, WithoutH2cThePrefaceIsAnHttp1Error) {
    TestServer srv(routes);
    std::string out = curl_h2(srv.port(), "/", "-o /dev/null -w '%{http_version}'");
    EXPECT_NE(out, "2");
}

TEST(H2, AnHttp2OnlyPortCutsOffClientsWithoutThePreface) {
    ServerOptions o = h2c_options();
    o.http1 = false;
    TestServer srv(routes, o);
    EXPECT_EQ(curl_h2(srv.port(), "/"), "hello");
    keel::testing::RawClient c(srv.port());
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string reply = c.read_until_close();
    EXPECT_EQ(reply.find("HTTP/1.1"), std::string::npos) << reply;  // no HTTP/1.1 answer: cut off
}

TEST(H2, ManyConcurrentStreamsOnFewConnections) {
    TestServer srv(routes, h2c_options());
    std::string out =
        keel::test::run("h2load -n 400 -c 2 -m 50 http://127.0.0.1:" + std::to_string(srv.port()) + "/wait 2>&1");
    EXPECT_NE(out.find("400 succeeded, 0 failed, 0 errored"), std::string::npos) << out;
}

TEST(H2, TheStreamLimitIsAdvertisedAndEnforced) {
    ServerOptions o = h2c_options();
    o.h2_max_concurrent_streams = 20;
    TestServer srv(routes, o);
    // h2load opens 50 streams at once, before our SETTINGS reach it: those beyond 20 are refused
    // (REFUSED_STREAM, safe to retry); then it keeps within the limit. Never more than 20 run.
    most_waiting = 0;
    std::string out =
        keel::test::run("h2load -n 200 -c 1 -m 50 http://127.0.0.1:" + std::to_string(srv.port()) + "/wait 2>&1");
    EXPECT_NE(out.find("requests: 200 total"), std::string::npos) << out;
    EXPECT_EQ(most_waiting.load(), 20) << out;
    // One that opens more streams than it acknowledged is cut: nghttp2 treats it as a
    // connection error (GOAWAY PROTOCOL_ERROR naming the last stream it took).
    std::string cut = probe(srv.port(), "many_streams", "30");
    EXPECT_NE(cut.find("GOAWAY 1 last="), std::string::npos) << cut;
}

TEST(H2, RapidResetIsCutWithEnhanceYourCalm) {
    TestServer srv(routes, h2c_options());
    EXPECT_EQ(probe(srv.port(), "rapid_reset", "1000"), "GOAWAY 11");
    // The server is fine afterwards.
    EXPECT_EQ(curl_h2(srv.port(), "/"), "hello");
}

TEST(H2, ContinuationFloodEndsTheConnection) {
    TestServer srv(routes, h2c_options());
    std::string out = probe(srv.port(), "continuation_flood");
    EXPECT_EQ(out.rfind("GOAWAY", 0), 0u) << out;
    EXPECT_EQ(curl_h2(srv.port(), "/"), "hello");
}

TEST(H2, PingAndSettingsFloodsAreCut) {
    TestServer srv(routes, h2c_options());
    EXPECT_EQ(probe(srv.port(), "ping_flood"), "GOAWAY 11");
    EXPECT_EQ(probe(srv.port(), "settings_flood"), "GOAWAY 11");
    EXPECT_EQ(curl_h2(srv.port(), "/"), "hello");
}

TEST(H2, HpackBombAndLargeHeaderListsGet431) {
    TestServer srv(routes, h2c_options());
    std::string bomb = probe(srv.port(), "hpack_bomb");
    EXPECT_EQ(bomb.rfind("STATUS 431", 0), 0u) << bomb;
    EXPECT_EQ(probe(srv.port(), "big_headers"), "STATUS 431");
}

TEST(H2, BodyLimitPerStreamGives413) {
    TestServer srv(routes, h2c_options());
    EXPECT_EQ(probe(srv.port(), "big_body", "300000"), "STATUS 413");
    // within the limit
    EXPECT_EQ(curl_h2(srv.port(), "/echo", "--data-binary @/dev/null -o /dev/null -w '%{http_code}'"), "200");
}

TEST(H2, AZeroWindowClientIsDroppedAfterTheWriteTimeout) {
    ServerOptions o = h2c_options();
    o.write_timeout = 1s;
    TestServer srv(routes, o);
    std::string out = probe(srv.port(), "zero_window");
    EXPECT_EQ(out.rfind("EOF after", 0), 0u) << out;
}

TEST(H2, AStalledClientCannotMakeAConnectionHoldMoreThanItsBudget) {
    // 100 streams of 64 KiB with a zero window: before, all 100 answers (6.4 MB) were held for
    // the write timeout; now the connection holds h2_max_buffered_bytes (512 KiB = 8 answers) and
    // the other requests wait without running. Once the window opens, all complete (issue 25 #3).
    ServerOptions o = h2c_options();
    TestServer srv(routes, o);
    EXPECT_EQ(probe(srv.port(), "buffered_budget", "100"), "HEADERS 8 COMPLETE 100");
    o.h2_max_buffered_bytes = 256 * 1024;
    TestServer small(routes, o);
    EXPECT_EQ(probe(small.port(), "buffered_budget", "40"), "HEADERS 4 COMPLETE 40");
}

TEST(H2, AStreamAnsweredEarlyIsResetAndTheConnectionStillIdlesOut) {
    // The client never finishes its request: 408 at the read timeout, then RST_STREAM(NO_ERROR)
    // (RFC 9113 §8.1) so no stream stays open, then GOAWAY at the idle timeout (issue 25 #5:
    // before, such a connection stayed open for good).
    ServerOptions o = h2c_options();
    o.read_timeout = 300ms;
    o.idle_timeout = 700ms;
    TestServer srv(routes, o);
    std::string body = probe(srv.port(), "early_answer", "body");
    EXPECT_EQ(body.rfind("STATUS 408 | RST 0 | GOAWAY 0 | EOF after ", 0), 0u) << body;
    std::string headers = probe(srv.port(), "early_answer", "headers");
    EXPECT_NE(headers.find("EOF after "), std::string::npos) << headers;
    EXPECT_EQ(headers.find("TIMEOUT"), std::string::npos) << headers;
}

TEST(H2, PathAndHostFollowTheHttp1Rules) {
    // Parity with HTTP/1.1 (issue 25 #9): no fragment or non-ASCII byte in :path; a Host naming
    // another authority than :authority is malformed (RFC 9113 §8.3.1).
    TestServer srv(routes, h2c_options());
    EXPECT_EQ(probe(srv.port(), "odd_request", "fragment"), "STATUS 400");
    EXPECT_EQ(probe(srv.port(), "odd_request", "non_ascii"), "STATUS 400");
    EXPECT_EQ(probe(srv.port(), "odd_request", "host_differs"), "STATUS 400");
    EXPECT_EQ(probe(srv.port(), "odd_request", "host_same"), "STATUS 200");
}

TEST(H2, HandlerDeadlinePerStream) {
    ServerOptions o = h2c_options();
    o.handler_timeout = 200ms;
    TestServer srv(routes, o);
    EXPECT_EQ(curl_h2(srv.port(), "/slow", "-o /dev/null -w '%{http_code}'"), "503");
    EXPECT_EQ(curl_h2(srv.port(), "/", "-o /dev/null -w '%{http_code}'"), "200");
}

TEST(H2, GracefulShutdownSendsGoawayAndLetsTheStreamFinish) {
    TestServer srv(routes, h2c_options());
    std::string cmd = "/usr/bin/python3 " KEEL_H2_PROBE " " + std::to_string(srv.port()) + " slow_then_goaway";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char line[512];
    ASSERT_NE(std::fgets(line, sizeof line, p), nullptr);
    EXPECT_EQ(std::string(line), "STARTED\n");
    // The request is sent; shut down once the server has it in flight.
    ASSERT_TRUE(keel::test::eventually([&] { return srv.server().stats().requests >= 1; }));
    srv.server().shutdown();
    std::string rest;
    while (std::fgets(line, sizeof line, p)) {
        rest += line;
    }
    ::pclose(p);
    EXPECT_EQ(trim(rest), "GOAWAY last=1 code=0 | STATUS 200 | END slow | EOF");
    EXPECT_TRUE(srv.server().wait_drained(5s));
}
