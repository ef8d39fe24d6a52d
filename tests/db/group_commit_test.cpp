// GroupCommit: concurrent submissions share batches, each caller gets its own result on its
// own loop, and a failing write fails exactly the items of its batch.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/db/group_commit.hpp>

#include "support/eventually.hpp"

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
    ASSERT_TRUE(keel::test::eventually([&] { return done == 2 * kPerLoop; }, 5s));
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

namespace {

// An item whose stop token fires while it waits behind a batch in flight is withdrawn: it
// answers kCancelled at once and is never written; the batch in flight is not disturbed.
TEST(GroupCommit, AnItemCancelledWhileQueuedIsWithdrawnAndNeverWritten) {
    std::atomic<bool> release{false};
    std::vector<int> written;  // the write runs on the leader's loop only
    GroupCommit<int, keel::Result<int>> gc([&](std::vector<int>& batch) -> Task<std::vector<keel::Result<int>>> {
        while (!release.load()) {
            co_await keel::sleep_for(1ms);  // the first batch is "on disk" until the test says so
        }
        written.insert(written.end(), batch.begin(), batch.end());
        co_return std::vector<keel::Result<int>>(batch.begin(), batch.end());
    });
    keel::LoopThread lt;
    keel::StopSource stop;  // used on the loop thread only, as a connection's is
    std::atomic<int> first{0};
    std::atomic<bool> second_done{false};
    std::atomic<int> second_code{-1};
    lt.loop().post([&] {
        keel::spawn(
            [](GroupCommit<int, keel::Result<int>>& gc, std::atomic<int>& out) -> Task<void> {
                auto r = co_await gc.submit(1);
                out = r ? *r : -1;
            }(gc, first),
            [](std::exception_ptr) {});
        keel::spawn(
            [](GroupCommit<int, keel::Result<int>>& gc, keel::StopToken t, std::atomic<int>& code,
               std::atomic<bool>& done) -> Task<void> {
                auto r = co_await gc.submit(2, t);
                code = r ? 0 : static_cast<int>(r.error().code());
                done = true;
            }(gc, stop.token(), second_code, second_done),
            [](std::exception_ptr) {});
        stop.request_stop();
    });
    ASSERT_TRUE(keel::test::eventually([&] { return second_done.load(); }));
    EXPECT_EQ(second_code.load(), static_cast<int>(keel::Errc::cancelled));
    EXPECT_EQ(first.load(), 0);  // still being written
    release = true;
    ASSERT_TRUE(keel::test::eventually([&] { return first.load() == 1; }));
    lt.block_on([]() -> Task<void> { co_return; });  // the write's last step has run
    EXPECT_EQ(written, std::vector<int>{1});
    EXPECT_EQ(gc.stats().items, 1u);
}

}  // namespace
