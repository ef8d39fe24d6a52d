#include <gtest/gtest.h>

#include <keel/core/stop_token.hpp>
#include <vector>

TEST(StopToken, DefaultTokenNeverStops) {
    keel::StopToken t;
    EXPECT_FALSE(t.stop_possible());
    EXPECT_FALSE(t.stop_requested());
}

TEST(StopToken, CallbacksRunOnceInOrder) {
    keel::StopSource src;
    std::vector<int> calls;
    keel::StopCallback a(src.token(), [&] { calls.push_back(1); });
    keel::StopCallback b(src.token(), [&] { calls.push_back(2); });
    EXPECT_TRUE(src.request_stop());
    EXPECT_FALSE(src.request_stop());
    EXPECT_EQ(calls, (std::vector<int>{1, 2}));
    EXPECT_TRUE(src.token().stop_requested());
}

TEST(StopToken, DestroyedCallbackIsNotCalled) {
    keel::StopSource src;
    int calls = 0;
    {
        keel::StopCallback cb(src.token(), [&] { ++calls; });
    }
    src.request_stop();
    EXPECT_EQ(calls, 0);
}

TEST(StopToken, CallbackOnStoppedSourceRunsImmediately) {
    keel::StopSource src;
    src.request_stop();
    int calls = 0;
    keel::StopCallback cb(src.token(), [&] { ++calls; });
    EXPECT_EQ(calls, 1);
}

TEST(StopToken, ResetMakesSourceReusable) {
    keel::StopSource src;
    src.request_stop();
    src.reset();
    EXPECT_FALSE(src.stop_requested());
    int calls = 0;
    keel::StopCallback cb(src.token(), [&] { ++calls; });
    src.request_stop();
    EXPECT_EQ(calls, 1);
}
