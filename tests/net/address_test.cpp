// net::Address: parsing and the textual forms logs and listeners print.
#include <keel/net/address.hpp>

#include <gtest/gtest.h>

TEST(Address, FormatsIpv4AndIpv6Hosts) {
    for (const char* ip : {"0.0.0.0", "127.0.0.1", "10.20.3.4", "255.255.255.255", "192.168.100.9"}) {
        auto a = keel::net::Address::parse(ip, 80);
        ASSERT_TRUE(a) << ip;
        EXPECT_EQ(a->host(), ip);
        EXPECT_EQ(a->to_string(), std::string(ip) + ":80");
    }
    auto v6 = keel::net::Address::parse("::1", 8080);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host(), "::1");
    EXPECT_EQ(v6->to_string(), "[::1]:8080");
    EXPECT_FALSE(keel::net::Address::parse("300.1.2.3", 80));
}

TEST(HostPort, SplitsNamesIpv4AndBracketedIpv6) {
    using keel::net::parse_host_port;
    struct Case {
        const char* text;
        const char* host;
        int port;
    };
    for (const Case& c : {Case{"db.example:5432", "db.example", 5432}, Case{"127.0.0.1:0", "127.0.0.1", 0},
                          Case{"[::1]:6379", "::1", 6379}, Case{"[fe80::1%25eth0]:80", "fe80::1%25eth0", 80},
                          Case{":9090", "", 9090}}) {
        auto hp = parse_host_port(c.text);
        ASSERT_TRUE(hp) << c.text << ": " << hp.error().message();
        EXPECT_EQ(hp->host, c.host);
        EXPECT_EQ(hp->port, c.port);
    }
    auto defaulted = parse_host_port("cache.internal", 6379);
    ASSERT_TRUE(defaulted);
    EXPECT_EQ(defaulted->port, 6379);
    auto bare_v6 = parse_host_port("::1", 6379);
    ASSERT_TRUE(bare_v6);
    EXPECT_EQ(bare_v6->host, "::1");
    EXPECT_EQ(bare_v6->port, 6379);
}

TEST(HostPort, RefusesWhatIsNotHostAndPort) {
    using keel::net::parse_host_port;
    for (const char* bad :
         {"host", "host:", "host:http", "host:65536", "host:-1", "host:80x", "[::1", "[::1]x", "[::1]:", "h:+80"}) {
        auto hp = parse_host_port(bad);
        EXPECT_FALSE(hp) << bad;
        if (!hp) {
            EXPECT_EQ(hp.error().code(), keel::Errc::invalid_argument);
        }
    }
    EXPECT_EQ(parse_host_port("host").error().message(), "missing port (host:port)");
    EXPECT_EQ(parse_host_port("host:99999").error().message(), "port must be a number from 0 to 65535");
}
