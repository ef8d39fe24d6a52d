#include <gtest/gtest.h>

#include <keel/core/result.hpp>
#include <string>

namespace {

keel::Result<int> parse_positive(int x) {
    if (x <= 0) {
        return keel::Error(keel::Errc::invalid_argument, "must be positive");
    }
    return x;
}

keel::Result<int> doubled(int x) {
    KEEL_TRY(v, parse_positive(x));
    return v * 2;
}

keel::Result<void> check(int x) {
    KEEL_TRY_VOID(parse_positive(x).has_value() ? keel::Result<void>{} : keel::Result<void>{keel::errors::kTimeout});
    return {};
}

}  // namespace

TEST(Result, HoldsValue) {
    auto r = parse_positive(3);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, 3);
    EXPECT_EQ(r.value_or(9), 3);
}

TEST(Result, HoldsError) {
    auto r = parse_positive(-1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), keel::Errc::invalid_argument);
    EXPECT_EQ(r.error().message(), "must be positive");
    EXPECT_EQ(r.value_or(9), 9);
}

TEST(Result, TryPropagatesError) {
    EXPECT_EQ(*doubled(4), 8);
    auto r = doubled(0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), keel::Errc::invalid_argument);
}

TEST(Result, TryVoidPropagatesError) {
    EXPECT_TRUE(check(1));
    auto r = check(-1);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == keel::Errc::timeout);
}

TEST(Result, DynamicDetailIsCopiedCheaply) {
    auto e = keel::Error::with_detail(keel::Errc::io, "bind 127.0.0.1:80: permission denied");
    keel::Error copy = e;
    EXPECT_EQ(copy.message(), "bind 127.0.0.1:80: permission denied");
    EXPECT_EQ(keel::errc_name(copy.code()), "io");
}

TEST(Result, MoveOnlyValue) {
    keel::Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
    ASSERT_TRUE(r);
    std::unique_ptr<int> p = std::move(r).value();
    EXPECT_EQ(*p, 5);
}
