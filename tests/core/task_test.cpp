#include <gtest/gtest.h>

#include <keel/core/loop.hpp>
#include <keel/core/sleep.hpp>
#include <keel/core/task.hpp>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

keel::Task<int> answer() {
    co_return 42;
}

keel::Task<int> add_one(int x) {
    int a = co_await answer();
    co_return a + x;
}

keel::Task<void> fail() {
    throw std::runtime_error("boom");
    co_return;
}

keel::Task<std::string> catch_it() {
    try {
        co_await fail();
    } catch (const std::exception& e) {
        co_return std::string("caught ") + e.what();
    }
    co_return "not caught";
}

// Deep chains of synchronous completions must not grow the stack (symmetric transfer).
keel::Task<int> count_down(int n) {
    if (n == 0) {
        co_return 0;
    }
    co_return 1 + co_await count_down(n - 1);
}

template <class T>
T run_sync(keel::Task<T> t) {
    std::optional<T> out;
    std::exception_ptr err;
    keel::spawn(std::move(t), [&](std::optional<T> v, std::exception_ptr e) {
        out = std::move(v);
        err = e;
    });
    if (err) {
        std::rethrow_exception(err);
    }
    return *out;
}

}  // namespace

TEST(Task, ReturnsValueThroughAwaitChain) {
    EXPECT_EQ(run_sync(add_one(1)), 43);
}

TEST(Task, ExceptionPropagatesToAwaiter) {
    EXPECT_EQ(run_sync(catch_it()), "caught boom");
}

TEST(Task, ExceptionPropagatesToSpawnCallback) {
    bool called = false;
    keel::spawn(fail(), [&](std::exception_ptr e) {
        called = true;
        EXPECT_TRUE(e);
    });
    EXPECT_TRUE(called);
}

TEST(Task, DeepRecursionDoesNotOverflow) {
    EXPECT_EQ(run_sync(count_down(5000)), 5000);
}

TEST(Task, LazyUntilAwaited) {
    bool started = false;
    auto make = [&]() -> keel::Task<int> {
        started = true;
        co_return 1;
    };
    keel::Task<int> t = make();
    EXPECT_FALSE(started);
    EXPECT_EQ(run_sync(std::move(t)), 1);
    EXPECT_TRUE(started);
}

TEST(Task, DestroyingUnstartedTaskFreesFrame) {
    // Under ASan a leak or double free here fails the test.
    for (int i = 0; i < 1000; ++i) {
        keel::Task<int> t = answer();
        (void)t;
    }
    SUCCEED();
}

TEST(Task, SleepResumesOnLoop) {
    keel::Loop loop;
    bool done = false;
    auto start = keel::Clock::now();
    auto work = [&]() -> keel::Task<void> {
        bool full = co_await keel::sleep_for(30ms);
        EXPECT_TRUE(full);
        done = true;
        loop.stop();
    };
    loop.defer([&] { keel::spawn(work(), [](std::exception_ptr) {}); });
    loop.run();
    EXPECT_TRUE(done);
    EXPECT_GE(keel::Clock::now() - start, 30ms);
}

TEST(Task, SleepCutShortByStopToken) {
    keel::Loop loop;
    keel::StopSource stop;
    bool full = true;
    auto work = [&]() -> keel::Task<void> {
        full = co_await keel::sleep_for(10s, stop.token());
        loop.stop();
    };
    loop.defer([&] {
        keel::spawn(work(), [](std::exception_ptr) {});
        loop.run_after(20ms, [&] { stop.request_stop(); });
    });
    auto start = keel::Clock::now();
    loop.run();
    EXPECT_FALSE(full);
    EXPECT_LT(keel::Clock::now() - start, 5s);
}
