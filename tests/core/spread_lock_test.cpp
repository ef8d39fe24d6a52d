// keel::SpreadLock: readers never see a writer's half-done change, writers exclude each other,
// and it holds with more threads than read slots (threads then share a slot).
#include <keel/core/spread_lock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace {

TEST(SpreadLock, ReadersSeeWholeWritesWithMoreThreadsThanSlots) {
    keel::SpreadLock lock;
    long a = 0, b = 0;  // a writer keeps them equal; only its half-done state differs
    std::atomic<int> torn{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 12; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 4000; ++i) {
                if ((i + t) % 8 == 0) {
                    std::lock_guard write(lock);
                    ++a;
                    std::this_thread::yield();
                    ++b;
                } else {
                    keel::SharedSlot read(lock);
                    torn += a != b;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(torn.load(), 0);
    EXPECT_EQ(a, 12 * 4000 / 8);  // no lost update: writers excluded each other
    EXPECT_EQ(a, b);
}

TEST(SpreadLock, AThreadKeepsItsSlot) {
    std::size_t first = keel::SpreadLock::slot();
    EXPECT_LT(first, keel::SpreadLock::kSlots);
    EXPECT_EQ(keel::SpreadLock::slot(), first);
    std::size_t other = 0;
    std::thread([&] { other = keel::SpreadLock::slot(); }).join();
    EXPECT_NE(other, first);  // the next thread takes the next slot
}

}  // namespace
