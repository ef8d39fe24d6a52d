// Server-Sent Events: the wire format, heartbeats while waiting, Last-Event-ID, and the stream
// ending when the client leaves or the server shuts down. Real sockets; curl for the client a
// browser-like consumer would be.
#include <keel/testing/test_server.hpp>
#include <keel/web/sse.hpp>

#include "support/eventually.hpp"
#include "support/run_command.hpp"

#include <gtest/gtest.h>

#include <atomic>

using keel::test::eventually;
using keel::testing::RawClient;
using keel::testing::TestServer;
using keel::web::format_sse_event;
using keel::web::SseEvent;
using keel::web::SseWriter;
using namespace std::chrono_literals;

TEST(SseFormat, FieldsAndMultiLineData) {
    EXPECT_EQ(format_sse_event({.data = "hi"}), "data: hi\n\n");
    EXPECT_EQ(format_sse_event({.id = "7", .event = "tick", .data = "a\nb\r\nc\rd", .retry = 2500ms}),
              "id: 7\nevent: tick\nretry: 2500\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    EXPECT_EQ(format_sse_event({}), "data: \n\n");  // an empty message is still an event
    // A line break in id or event would end the field and smuggle another: dropped.
    EXPECT_EQ(format_sse_event({.id = "1\ndata: x", .event = "a\rb", .data = "y"}),
              "id: 1data: x\nevent: ab\ndata: y\n\n");
    EXPECT_EQ(format_sse_event({.data = "trailing\n"}), "data: trailing\ndata: \n\n");
}

TEST(Sse, HeadersEventsAndHeartbeatsOverARealSocket) {
    TestServer srv([](keel::http::Request&) {
        return keel::web::sse(
            [](SseWriter& out) -> keel::Task<void> {
                co_await out.send({.id = "1", .data = "first"});
                co_await out.wait(200ms);  // 50 ms heartbeats: 3 comments, none after the last step
                co_await out.send({.id = "2", .event = "last", .data = "second"});
            },
            {.heartbeat = 50ms});
    });
    RawClient c(srv.port());
    auto r = c.exchange("GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Content-Type"), "text/event-stream");
    EXPECT_EQ(r->header("Cache-Control"), "no-cache");
    EXPECT_EQ(r->header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(r->body, "id: 1\ndata: first\n\n:\n\n:\n\n:\n\nid: 2\nevent: last\ndata: second\n\n");
}

TEST(Sse, LastEventIdReachesTheHandler) {
    TestServer srv([](keel::http::Request& req) {
        auto raw = keel::web::last_event_id(req);
        auto n = keel::web::last_event_id_number(req);
        return keel::http::Response::text(std::string(raw.value_or("none")) + "/" +
                                          (n ? std::to_string(*n) : std::string("nan")));
    });
    auto ask = [&](const std::string& header) {
        RawClient c(srv.port());
        auto r = c.exchange("GET / HTTP/1.1\r\nHost: t\r\n" + header + "\r\n");
        return r ? r->body : std::string("(none)");
    };
    EXPECT_EQ(ask(""), "none/nan");
    EXPECT_EQ(ask("Last-Event-ID: 41\r\n"), "41/41");
    EXPECT_EQ(ask("Last-Event-ID: abc\r\n"), "abc/nan");
    EXPECT_EQ(ask("Last-Event-ID: -3\r\n"), "-3/nan");
}

TEST(Sse, TheProducerStopsWhenTheClientLeaves) {
    std::atomic<int> sent{0};
    std::atomic<bool> finished{false};
    TestServer srv([&](keel::http::Request&) {
        return keel::web::sse([&](SseWriter& out) -> keel::Task<void> {
            while (co_await out.send({.data = "x"})) {
                ++sent;
                if (!co_await out.wait(10ms)) {
                    break;
                }
            }
            finished = true;
        });
    });
    {
        RawClient c(srv.port());
        ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
        ASSERT_TRUE(c.readable(5000ms));
        ASSERT_TRUE(eventually([&] { return sent >= 3; }));
    }  // the client closes
    EXPECT_TRUE(eventually([&] { return finished.load(); }));
}

TEST(Sse, AGracefulShutdownEndsTheStreamAtOnce) {
    auto o = TestServer::default_options();
    o.shutdown_timeout = 30s;  // an endless stream must not hold the shutdown this long
    std::atomic<bool> streaming{false};
    TestServer srv(
        [&](keel::http::Request&) {
            return keel::web::sse([&](SseWriter& out) -> keel::Task<void> {
                co_await out.send({.data = "hello"});
                streaming = true;
                while (co_await out.wait(1h)) {
                }
            });
        },
        o);
    RawClient c(srv.port());
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return streaming.load(); }));
    auto start = std::chrono::steady_clock::now();
    srv.server().shutdown();
    EXPECT_TRUE(srv.server().wait_drained(10s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    // The client got a complete chunked body (the final chunk), not a cut connection.
    std::string rest = c.read_until_close();
    EXPECT_NE(rest.find("data: hello\n\n"), std::string::npos) << rest;
    EXPECT_NE(rest.find("\r\n0\r\n\r\n"), std::string::npos) << rest;
}

TEST(Sse, CurlReadsTheStreamAsItComes) {
    TestServer srv([](keel::http::Request&) {
        return keel::web::sse([](SseWriter& out) -> keel::Task<void> {
            for (int i = 1; i <= 3; ++i) {
                std::string id = std::to_string(i);
                co_await out.send({.id = id, .data = "tick " + id});
                co_await out.wait(20ms);
            }
        });
    });
    EXPECT_EQ(keel::test::run("curl -sN " + srv.url("/events")),
              "id: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\nid: 3\ndata: tick 3\n\n");
}
