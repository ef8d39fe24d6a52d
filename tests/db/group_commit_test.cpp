// GroupCommit: concurrent submissions share batches, each caller gets its own result on its
// own loop, and a failing write fails exactly the items of its batch.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/db/group_commit.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

namespace {

using namespace std::chrono_literals;
using keel::Task;
using keel::db::GroupCommit;

TEST(GroupCommit, ConcurrentItemsShareBatchesAndGetTheirOwnResults) {
    std::atomic<int> writes{0};
    GroupCommit<int, int> gc(
        [&](std::vector<int>& batch) -> Task<std::vector<int>> {
            ++writes;
            co_await keel::sleep_for(5ms);  // a commit takes time: later arrivals queue up
            std::vector<int> out;
            for (int v : batch) {
                out.push_back(v * 10);
            }
            co_return out;
        },
        {.max_batch = 64});
    keel::LoopThread a, b;  // callers on two loops
    constexpr int kPerLoop = 100;
    std::atomic<int> correct{0}, done{0};
    auto run = [&](keel::LoopThread& lt, int base) {
        lt.loop().post([&, base] {
            for (int i = 0; i < kPerLoop; ++i) {
                keel::spawn(
                    [](GroupCommit<int, int>& gc, int v, std::atomic<int>& correct, std::atomic<int>& done,
                       keel::Loop* home) -> Task<void> {
                        int r = co_await gc.submit(v);
                        correct += (r == v * 10 && keel::Loop::current() == home);
                        ++done;
                    }(gc, base + i, correct, done, &lt.loop()),
                    [](std::exception_ptr) {});
            }
        });
    };
    run(a, 0);
    run(b, 1000);
    for (int i = 0; i < 500 && done < 2 * kPerLoop; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(done, 2 * kPerLoop);
    EXPECT_EQ(correct, 2 * kPerLoop);
    auto s = gc.stats();
    EXPECT_EQ(s.items, 200u);
    EXPECT_LT(s.batches, 20u);  // far fewer commits than items
    EXPECT_EQ(static_cast<int>(s.batches), writes.load());
}

TEST(GroupCommit, AFailedWriteFailsItsBatchOnly) {
    std::atomic<int> calls{0};
    GroupCommit<int, int> gc([&](std::vector<int>& batch) -> Task<std::vector<int>> {
        if (++calls == 1) {
            throw std::runtime_error("disk full");
        }
        co_return std::vector<int>(batch.size(), 7);
    });
    keel::LoopThread lt;
    auto first = lt.block_on([&]() -> Task<std::string> {
        try {
            (void)co_await gc.submit(1);
            co_return std::string("no error");
        } catch (const std::exception& e) {
            co_return std::string(e.what());
        }
    });
    EXPECT_EQ(first, "disk full");
    int second = lt.block_on([&]() { return gc.submit(2); });
    EXPECT_EQ(second, 7);
}

}  // namespace
