// WebSockets (RFC 6455) through hello's /ws/echo and /ws/chat, with real clients: Debian's
// python3-websockets and npm's ws (tools/contract), and a raw socket for the frames no client
// library sends (tests/app/ws_probe.py). hello runs as a real process with two loops.
#include <support/eventually.hpp>
#include <support/process.hpp>
#include <support/run_command.hpp>

#include <gtest/gtest.h>

#include <csignal>

using keel::test::eventually;
using keel::test::Process;
using keel::test::run;

namespace {

const std::string kProbe = std::string("/usr/bin/python3 ") + KEEL_WS_PROBE;

class AppWebSocket : public ::testing::Test {
  protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        hello_ = std::make_unique<Process>(
            std::vector<std::string>{KEEL_HELLO_BINARY, "--server.port", "0", "--server.threads", "2",
                                     "--server.shutdown_timeout", "10s", "--admin.on_main", "true"});
        port_ = hello_->wait_port();
        ASSERT_GT(port_, 0) << hello_->stderr_text();
    }
    std::string url(const std::string& path) const { return "ws://127.0.0.1:" + std::to_string(port_) + path; }
    /// keel_websocket_server_closes_total{reason="..."} as /metrics shows it now.
    std::string closes(const std::string& reason) const {
        std::string metrics = run("curl -s http://127.0.0.1:" + std::to_string(port_) + "/metrics");
        std::string key = "keel_websocket_server_closes_total{reason=\"" + reason + "\"} ";
        std::size_t at = metrics.find(key);
        return at == std::string::npos ? "absent"
                                       : metrics.substr(at + key.size(), metrics.find('\n', at) - at - key.size());
    }

    std::unique_ptr<Process> hello_;
    int port_ = 0;
};

}  // namespace

TEST_F(AppWebSocket, EchoWithPythonWebsockets) {
    EXPECT_EQ(run(kProbe + " echo " + url("/ws/echo")),
              "text héllo\n"
              "binary 0001ff\n"
              "big True\n"
              "fragmented fragmented\n"
              "pong\n"
              "extensions PerMessageDeflate\n"
              "closed 1000\n");
}

TEST_F(AppWebSocket, EchoWithNodeWs) {
    EXPECT_EQ(
        run("NODE_PATH=" + std::string(KEEL_NODE_MODULES) + " node " + KEEL_WS_NODE_CLIENT + " " + url("/ws/echo")),
        "text hello from node false\n"
        "binary 010203 true\n"
        "big true\n"
        "fragmented fragmented\n"
        "pong ping?\n"
        "extensions permessage-deflate\n"
        "closed 4001 \n");
}

TEST_F(AppWebSocket, ABroadcastReachesEveryClientOnEveryLoop) {
    EXPECT_EQ(run(kProbe + " chat " + url("/ws/chat") + " 6"), "heard 6\n");
}

TEST_F(AppWebSocket, ProtocolViolationsCloseWithTheirCodes) {
    for (auto [violation, code] : std::vector<std::pair<std::string, std::string>>{{"unmasked", "1002"},
                                                                                   {"reserved-opcode", "1002"},
                                                                                   {"rsv2", "1002"},
                                                                                   {"invalid-utf8", "1007"},
                                                                                   {"invalid-utf8-fragmented", "1007"},
                                                                                   {"oversize-control", "1002"},
                                                                                   {"fragmented-control", "1002"},
                                                                                   {"continuation-first", "1002"},
                                                                                   {"new-message-mid-fragment", "1002"},
                                                                                   {"too-big", "1009"},
                                                                                   {"bad-close-code", "1002"},
                                                                                   {"close-normal", "1000"}}) {
        // The close frame with the code, then the server closes the connection.
        EXPECT_EQ(run(kProbe + " violation " + url("/ws/echo") + " " + violation), code + "\neof\n") << violation;
    }
    // And it keeps serving.
    EXPECT_EQ(run(kProbe + " echo " + url("/ws/echo")).substr(0, 12), "text héllo\n");
}

TEST_F(AppWebSocket, ASlowReaderSlowsTheSenderInsteadOfGrowingItsMemory) {
    // 4000 echoes of 10 KB (40 MB) to a client that does not read: the server's echo waits at
    // the output high-water mark, so it stops reading and the client's sending stalls; then the
    // client reads and every echo arrives.
    EXPECT_EQ(run(kProbe + " backpressure " + url("/ws/echo") + " 4000 10000"), "stalled True\nechoed 4000\n");
}

TEST_F(AppWebSocket, RoomMembersThatDoNotReadAreDroppedInsteadOfHoldingTheRoomsMessages) {
    // 8 members with a 4 KiB receive window never read while one speaks 200 messages of 64 KiB:
    // each silent member's queue passes max_queued_bytes (1 MiB) and it is dropped; the speaker
    // still hears all of its own messages at once (issue 25 #1).
    EXPECT_EQ(closes("too_slow"), "0");
    EXPECT_EQ(run(kProbe + " slow-members " + url("/ws/chat") + " 8 200 65536"), "heard 200\ndropped 8\n");
    EXPECT_TRUE(eventually([&] { return closes("too_slow") == "8"; })) << closes("too_slow");
    EXPECT_NE(hello_->stderr_text().find("the client reads too slowly"), std::string::npos);
    // The room goes on for those who read.
    EXPECT_EQ(run(kProbe + " chat " + url("/ws/chat") + " 3"), "heard 3\n");
}

TEST_F(AppWebSocket, CompressedMessagesMayNotInflateFasterThanTheConnectionsBudget) {
    // 200 messages of 10^6 zeros, ~1 KB each compressed: the first fits the burst, the next is
    // past max_inflate_bytes_per_second and closes the WebSocket with 1008 (issue 25 #6).
    EXPECT_EQ(run(kProbe + " inflate-bomb " + url("/ws/chat") + " 200"), "1008\n");
    EXPECT_TRUE(eventually([&] { return closes("inflate_rate") == "1"; })) << closes("inflate_rate");
}

TEST_F(AppWebSocket, TheHandshakeIsCheckedOriginsIncluded) {
    EXPECT_EQ(run(kProbe + " dup-key " + url("/ws/echo")), "400\n");  // RFC 6455 §11.3.1: once
    EXPECT_EQ(run(kProbe + " origin " + url("/ws/echo") + " https://evil.example"), "403\n");
    EXPECT_EQ(run(kProbe + " origin " + url("/ws/echo") + " http://127.0.0.1:" + std::to_string(port_)), "101\n");
    std::string http = "http://127.0.0.1:" + std::to_string(port_) + "/ws/echo";
    // A plain GET: 426 with the Upgrade it needs.
    std::string plain = run("curl -s -D - " + http);
    EXPECT_NE(plain.find("HTTP/1.1 426 Upgrade Required\r\n"), std::string::npos) << plain;
    EXPECT_NE(plain.find("Upgrade: websocket\r\n"), std::string::npos) << plain;
    EXPECT_EQ(run("curl -s -o /dev/null -w '%{http_code}' -H 'Upgrade: websocket' -H 'Connection: Upgrade' "
                  "-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: short' " +
                  http),
              "400");
    EXPECT_EQ(run("curl -s -o /dev/null -w '%{http_code}' -H 'Upgrade: websocket' -H 'Connection: Upgrade' "
                  "-H 'Sec-WebSocket-Version: 8' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' " +
                  http),
              "426");
    // RFC 6455's own example key and accept value.
    std::string ok =
        run("curl -s -m 2 -D - -o /dev/null -H 'Upgrade: websocket' -H 'Connection: Upgrade' "
            "-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' " +
            http);
    EXPECT_NE(ok.find("HTTP/1.1 101 Switching Protocols\r\n"), std::string::npos) << ok;
    EXPECT_NE(ok.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos) << ok;
    EXPECT_NE(ok.find("Connection: Upgrade\r\n"), std::string::npos) << ok;
}

TEST_F(AppWebSocket, GracefulShutdownClosesWith1001AndExitsZero) {
    Process client({"/usr/bin/python3", KEEL_WS_PROBE, "wait-close", url("/ws/echo")});
    ASSERT_TRUE(eventually([&] { return client.stdout_text() == "open\n"; })) << client.stderr_text();
    hello_->signal(SIGTERM);
    EXPECT_EQ(client.wait(std::chrono::seconds(20)), 0) << client.stderr_text();
    EXPECT_EQ(client.stdout_text(), "open\nclosed 1001 the server is shutting down\n");
    EXPECT_EQ(hello_->wait(std::chrono::seconds(20)), 0) << hello_->stderr_text();
}
