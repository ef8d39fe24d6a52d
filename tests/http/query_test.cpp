// Query strings: lookup, percent-decoding, and parameters that must appear at most once.
#include <keel/http/query.hpp>

#include <gtest/gtest.h>

using keel::http::decode_query_component;
using keel::http::query_param;
using keel::http::query_scalar;

TEST(Query, FindsTheFirstValueOfAParameter) {
    EXPECT_EQ(query_param("limit=20&cursor=c1.abc", "cursor"), "c1.abc");
    EXPECT_EQ(query_param("limit=20&limit=30", "limit"), "20");
    EXPECT_EQ(query_param("verbose", "verbose"), "");
    EXPECT_EQ(query_param("a=1&verbose=", "verbose"), "");
    EXPECT_EQ(query_param("&&a=1&", "a"), "1");
    EXPECT_EQ(query_param("limitless=1", "limit"), std::nullopt);
    EXPECT_EQ(query_param("", "limit"), std::nullopt);
}

TEST(Query, ValuesAndNamesArePercentDecoded) {
    EXPECT_EQ(query_param("q=caf%C3%A9+au+lait", "q"), "café au lait");
    EXPECT_EQ(query_param("a%5Fb=1", "a_b"), "1");
    EXPECT_EQ(query_param("q=100%25", "q"), "100%");
    EXPECT_EQ(query_param("q=%2", "q"), std::nullopt);  // malformed: no value rather than a wrong one
    EXPECT_EQ(decode_query_component("%zz"), std::nullopt);
    EXPECT_EQ(decode_query_component("%"), std::nullopt);
    EXPECT_EQ(decode_query_component("a%41"), "aA");
}

TEST(Query, AScalarThatIsRepeatedOrMalformedIsAnError) {
    auto once = query_scalar("limit=5&x=1", "limit");
    ASSERT_TRUE(once);
    EXPECT_EQ(*once, "5");
    auto absent = query_scalar("x=1", "limit");
    ASSERT_TRUE(absent);
    EXPECT_EQ(*absent, std::nullopt);
    auto twice = query_scalar("limit=5&limit=7", "limit");
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().code(), keel::Errc::invalid_argument);
    EXPECT_EQ(twice.error().message(), "must appear at most once");
    auto bad = query_scalar("limit=%G1", "limit");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "has a malformed percent-escape");
}
