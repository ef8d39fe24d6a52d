#include <keel/middleware/real_ip.hpp>
#include <keel/testing/test_server.hpp>

#include <gtest/gtest.h>

using keel::testing::RawClient;
using keel::testing::TestServer;

namespace {

// Over a real socket the peer is 127.0.0.1.
std::string client_ip_seen(const std::vector<std::string>& trusted, const std::string& extra_headers) {
    auto h = keel::mw::real_ip(trusted)(
        [](keel::http::Request& req) { return keel::http::Response::text(keel::mw::client_ip(req)); });
    TestServer srv(h);
    RawClient c(srv.port());
    auto r = c.exchange("GET / HTTP/1.1\r\nHost: t\r\n" + extra_headers + "\r\n");
    return r ? r->body : "<no response>";
}

}  // namespace

TEST(RealIp, UntrustedPeerHeadersAreIgnored) {
    EXPECT_EQ(client_ip_seen({"10.0.0.0/8"}, "X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n"), "127.0.0.1");
}

TEST(RealIp, TrustedPeerXForwardedForRightmostUntrusted) {
    // client 203.0.113.9 → proxy 10.1.1.1 → (peer 127.0.0.1); the leftmost entry is client-supplied.
    EXPECT_EQ(client_ip_seen({"127.0.0.0/8", "10.0.0.0/8"}, "X-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.1.1.1\r\n"),
              "203.0.113.9");
}

TEST(RealIp, TrustedPeerXRealIp) {
    EXPECT_EQ(client_ip_seen({"127.0.0.1/32"}, "X-Real-IP: 198.51.100.7\r\n"), "198.51.100.7");
}

TEST(RealIp, TrustedPeerForwardedHeader) {
    EXPECT_EQ(client_ip_seen({"127.0.0.1"}, "Forwarded: for=192.0.2.60;proto=http, for=\"[2001:db8::17]:4711\"\r\n"),
              "2001:db8::17");
}

TEST(RealIp, GarbageHeaderFallsBackToPeer) {
    EXPECT_EQ(client_ip_seen({"127.0.0.1"}, "X-Forwarded-For: not-an-ip\r\n"), "127.0.0.1");
}

TEST(RealIp, InvalidCidrIsASetupError) {
    EXPECT_THROW(keel::mw::real_ip({"10.0.0.0/33"}), std::invalid_argument);
    EXPECT_THROW(keel::mw::real_ip({"tenet"}), std::invalid_argument);
}
