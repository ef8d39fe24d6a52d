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
