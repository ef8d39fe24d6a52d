#include <gtest/gtest.h>

#include <atomic>
#include <keel/core/offload.hpp>
#include <keel/core/task.hpp>
#include <keel/core/worker_pool.hpp>
#include <latch>
#include <thread>

using namespace std::chrono_literals;

TEST(WorkerPool, RunsSubmittedJobs) {
    std::atomic<int> n{0};
    {
        keel::WorkerPool pool({.threads = 2, .queue_capacity = 100});
        for (int i = 0; i < 50; ++i) {
            ASSERT_TRUE(pool.try_submit([&] { n.fetch_add(1); }));
        }
    }  // destructor drains
    EXPECT_EQ(n.load(), 50);
}

TEST(WorkerPool, FullQueueRejectsAtOnce) {
    keel::WorkerPool pool({.threads = 1, .queue_capacity = 2});
    std::latch release(1);
    std::atomic<bool> started{false};
    ASSERT_TRUE(pool.try_submit([&] {
        started = true;
        release.wait();
    }));
    while (!started) {
        std::this_thread::yield();
    }
    EXPECT_TRUE(pool.try_submit([] {}));
    EXPECT_TRUE(pool.try_submit([] {}));
    EXPECT_FALSE(pool.try_submit([] {}));  // queue of 2 is full, the worker is busy
    EXPECT_EQ(pool.rejected(), 1u);
    EXPECT_EQ(pool.queue_depth(), 2u);
    release.count_down();
}

TEST(Offload, ResumesOnTheAwaitingLoopThread) {
    keel::WorkerPool pool({.threads = 2, .queue_capacity = 16});
    keel::Loop loop(&pool);
    std::thread::id loop_thread, work_thread, resumed_thread;
    int value = 0;
    std::thread runner([&] {
        loop_thread = std::this_thread::get_id();
        auto work = [&]() -> keel::Task<void> {
            auto r = co_await keel::offload([&] {
                work_thread = std::this_thread::get_id();
                return 21 * 2;
            });
            resumed_thread = std::this_thread::get_id();
            value = r.value();
            loop.stop();
        };
        loop.defer([&] { keel::spawn(work(), [](std::exception_ptr) {}); });
        loop.run();
    });
    runner.join();
    EXPECT_EQ(value, 42);
    EXPECT_NE(work_thread, loop_thread);
    EXPECT_EQ(resumed_thread, loop_thread);
}

TEST(Offload, FullPoolGivesOverloadedError) {
    keel::WorkerPool pool({.threads = 1, .queue_capacity = 1});
    std::latch release(1);
    std::atomic<bool> started{false};
    ASSERT_TRUE(pool.try_submit([&] {
        started = true;
        release.wait();
    }));
    while (!started) {
        std::this_thread::yield();
    }
    ASSERT_TRUE(pool.try_submit([] {}));  // fills the queue
    keel::Loop loop(&pool);
    bool overloaded = false;
    auto work = [&]() -> keel::Task<void> {
        auto r = co_await keel::offload([] { return 1; });
        overloaded = !r && r.error().code() == keel::Errc::overloaded;
        loop.stop();
    };
    loop.defer([&] { keel::spawn(work(), [](std::exception_ptr) {}); });
    loop.run();
    release.count_down();
    EXPECT_TRUE(overloaded);
}

TEST(Offload, ExceptionRethrownInCoroutine) {
    keel::WorkerPool pool({.threads = 1, .queue_capacity = 4});
    keel::Loop loop(&pool);
    std::string caught;
    auto work = [&]() -> keel::Task<void> {
        try {
            auto r = co_await keel::offload([]() -> int { throw std::runtime_error("disk on fire"); });
            (void)r;
        } catch (const std::exception& e) {
            caught = e.what();
        }
        loop.stop();
    };
    loop.defer([&] { keel::spawn(work(), [](std::exception_ptr) {}); });
    loop.run();
    EXPECT_EQ(caught, "disk on fire");
}
