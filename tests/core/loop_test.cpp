#include <gtest/gtest.h>

#include <atomic>
#include <keel/core/loop.hpp>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST(Loop, TimersFireInDeadlineOrder) {
    keel::Loop loop;
    std::vector<int> order;
    loop.run_after(30ms, [&] {
        order.push_back(3);
        loop.stop();
    });
    loop.run_after(10ms, [&] { order.push_back(1); });
    loop.run_after(20ms, [&] { order.push_back(2); });
    loop.run();
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(Loop, CancelledTimerDoesNotFire) {
    keel::Loop loop;
    bool fired = false;
    auto id = loop.run_after(10ms, [&] { fired = true; });
    EXPECT_TRUE(loop.cancel(id));
    EXPECT_FALSE(loop.cancel(id));
    loop.run_after(30ms, [&] { loop.stop(); });
    loop.run();
    EXPECT_FALSE(fired);
}

TEST(Loop, DeferRunsAfterCurrentCallback) {
    keel::Loop loop;
    std::vector<int> order;
    loop.defer([&] {
        loop.defer([&] {
            order.push_back(2);
            loop.stop();
        });
        order.push_back(1);
    });
    loop.run();
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(Loop, CurrentIsSetOnlyWhileRunning) {
    keel::Loop loop;
    EXPECT_EQ(keel::Loop::current(), nullptr);
    keel::Loop* seen = nullptr;
    loop.defer([&] {
        seen = keel::Loop::current();
        loop.stop();
    });
    loop.run();
    EXPECT_EQ(seen, &loop);
    EXPECT_EQ(keel::Loop::current(), nullptr);
}

TEST(Loop, PostFromManyThreadsRunsEverythingOnLoopThread) {
    keel::Loop loop;
    constexpr int kThreads = 4;
    constexpr int kPerThread = 5000;
    std::atomic<int> ran{0};
    std::thread::id loop_thread;
    bool wrong_thread = false;
    std::thread runner([&] {
        loop_thread = std::this_thread::get_id();
        loop.run();
    });
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t) {
        producers.emplace_back([&] {
            for (int i = 0; i < kPerThread; ++i) {
                loop.post([&] {
                    if (std::this_thread::get_id() != loop_thread) {
                        wrong_thread = true;
                    }
                    if (ran.fetch_add(1) + 1 == kThreads * kPerThread) {
                        loop.stop();
                    }
                });
            }
        });
    }
    for (auto& p : producers) {
        p.join();
    }
    runner.join();
    EXPECT_EQ(ran.load(), kThreads * kPerThread);
    EXPECT_FALSE(wrong_thread);
}

TEST(Loop, StopFromAnotherThreadWakesIdleLoop) {
    keel::Loop loop;
    std::thread runner([&] { loop.run(); });
    std::this_thread::sleep_for(20ms);
    auto start = std::chrono::steady_clock::now();
    loop.stop();
    runner.join();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(Loop, PeriodicTimerRepeatsUntilCancelled) {
    keel::Loop loop;
    int ticks = 0;
    keel::TimerId id = 0;
    id = loop.run_every(5ms, [&] {
        if (++ticks == 3) {
            EXPECT_TRUE(loop.cancel(id));  // cancelling itself from its own callback
        }
    });
    loop.run_after(60ms, [&] { loop.stop(); });
    loop.run();
    EXPECT_EQ(ticks, 3);
    EXPECT_FALSE(loop.cancel(id));
}
