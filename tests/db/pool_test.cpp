// Pool<Conn> logic with a fake connection (no database): limits, waiting, hand-over, timeouts,
// broken connections, lifetimes, back-off and the sql.DBStats-like counters.
#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/db/pool.hpp>
#include <support/eventually.hpp>
#include <support/latch.hpp>

#include <gtest/gtest.h>

#include <atomic>

namespace {

using namespace std::chrono_literals;
using keel::Result;
using keel::Task;
using keel::db::Pool;
using keel::db::PoolOptions;

struct FakeConn {
    int id = 0;
    bool is_broken = false;
    bool broken() const noexcept { return is_broken; }
};

struct Fixture {
    std::atomic<int> connects{0};
    std::atomic<bool> fail_connect{false};
    std::atomic<int> pings{0};
    std::atomic<bool> ping_ok{true};

    Pool<FakeConn>::ConnectFn connect() {
        return [this]() -> Task<Result<std::unique_ptr<FakeConn>>> {
            if (fail_connect) {
                co_return keel::Error(keel::Errc::unavailable, "connection refused");
            }
            auto c = std::make_unique<FakeConn>();
            c->id = ++connects;
            co_return c;
        };
    }
    Pool<FakeConn>::PingFn ping() {
        return [this](FakeConn&) -> Task<bool> {
            ++pings;
            co_return ping_ok.load();
        };
    }
};

TEST(Pool, ReusesAnIdleConnection) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 2}, f.connect());
    keel::LoopThread lt;
    int first = lt.block_on([&]() -> Task<int> {
        auto a = co_await pool.acquire();
        co_return a ? (*a)->id : -1;
    });
    int second = lt.block_on([&]() -> Task<int> {
        auto a = co_await pool.acquire();
        co_return a ? (*a)->id : -1;
    });
    EXPECT_EQ(first, 1);
    EXPECT_EQ(second, 1);
    EXPECT_EQ(f.connects, 1);
    auto s = pool.stats();
    EXPECT_EQ(s.open, 1u);
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.in_use, 0u);
}

TEST(Pool, WaitsWhenFullAndGetsTheReleasedConnection) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 1, .acquire_timeout = 2s}, f.connect());
    keel::LoopThread lt;
    auto got = lt.block_on([&]() -> Task<std::pair<int, int>> {
        auto a = co_await pool.acquire();
        EXPECT_TRUE(a);
        auto holder = std::make_shared<Pool<FakeConn>::Lease>(std::move(*a));
        // Release from another thread after 50 ms: the waiter must resume on this loop.
        std::thread([holder]() mutable {
            std::this_thread::sleep_for(50ms);
            holder.reset();
        }).detach();
        holder.reset();  // the thread keeps the last reference
        auto t0 = keel::Clock::now();
        auto b = co_await pool.acquire();
        auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(keel::Clock::now() - t0).count();
        co_return std::pair<int, int>{b ? (*b)->id : -1, static_cast<int>(waited)};
    });
    EXPECT_EQ(got.first, 1);
    EXPECT_GE(got.second, 40);
    auto s = pool.stats();
    EXPECT_EQ(s.wait_count, 1u);
    EXPECT_GE(s.wait_duration, 40ms);
    EXPECT_EQ(f.connects, 1);
}

TEST(Pool, AcquireTimesOutWithATimeoutError) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 1, .acquire_timeout = 100ms}, f.connect());
    keel::LoopThread lt;
    auto [code, ms] = lt.block_on([&]() -> Task<std::pair<keel::Errc, long>> {
        auto a = co_await pool.acquire();
        auto t0 = keel::Clock::now();
        auto b = co_await pool.acquire();
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(keel::Clock::now() - t0).count();
        co_return std::pair{b ? keel::Errc::internal : b.error().code(), static_cast<long>(ms)};
    });
    EXPECT_EQ(code, keel::Errc::timeout);
    EXPECT_GE(ms, 90);
    EXPECT_LT(ms, 1000);
    EXPECT_EQ(pool.stats().in_use, 0u);
}

TEST(Pool, StopTokenCancelsAWait) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 1, .acquire_timeout = 5s}, f.connect());
    keel::LoopThread lt;
    auto code = lt.block_on([&]() -> Task<keel::Errc> {
        auto a = co_await pool.acquire();
        keel::StopSource stop;
        keel::Loop::current()->run_after(30ms, [&stop] { stop.request_stop(); });
        auto b = co_await pool.acquire(stop.token());
        co_return b ? keel::Errc::internal : b.error().code();
    });
    EXPECT_EQ(code, keel::Errc::cancelled);
}

TEST(Pool, ManyWaitersAreAllServedByOneConnection) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 1, .acquire_timeout = 5s}, f.connect());
    keel::LoopThread lt;
    int served = lt.block_on([&]() -> Task<int> {
        int served = 0;
        constexpr int kN = 50;
        keel::test::Latch done(kN);
        for (int i = 0; i < kN; ++i) {
            // A coroutine lambda's captures die with the temporary closure: pass by parameter.
            keel::spawn(
                [](Pool<FakeConn>& pool, int& served, keel::test::Latch& done) -> Task<void> {
                    auto a = co_await pool.acquire();
                    EXPECT_TRUE(a);
                    co_await keel::sleep_for(1ms);  // hold it across a suspension
                    served += bool(a);
                    done.count_down();
                }(pool, served, done),
                [](std::exception_ptr) {});
        }
        co_await done.wait();
        co_return served;
    });
    EXPECT_EQ(served, 50);
    EXPECT_EQ(f.connects, 1);
    EXPECT_GE(pool.stats().wait_count, 49u);
}

TEST(Pool, BrokenConnectionsAreClosedNeverReused) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 2}, f.connect());
    keel::LoopThread lt;
    std::vector<int> ids = lt.block_on([&]() -> Task<std::vector<int>> {
        std::vector<int> ids;
        {
            auto a = co_await pool.acquire();
            ids.push_back((*a)->id);
            (*a)->is_broken = true;
        }
        {
            auto b = co_await pool.acquire();
            ids.push_back((*b)->id);
            b->discard();
        }
        auto c = co_await pool.acquire();
        ids.push_back((*c)->id);
        co_return ids;
    });
    EXPECT_EQ(ids, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(pool.stats().broken_closed, 2u);
}

TEST(Pool, MaxIdleClosesTheSurplus) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 3, .max_idle = 1}, f.connect());
    keel::LoopThread lt;
    lt.block_on([&]() -> Task<void> {
        auto a = co_await pool.acquire();
        auto b = co_await pool.acquire();
        auto c = co_await pool.acquire();
        EXPECT_EQ(pool.stats().in_use, 3u);
    });
    auto s = pool.stats();
    EXPECT_EQ(s.open, 1u);
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.max_idle_closed, 2u);
}

// The time the pools of the two tests below see: moved by hand, so ages and idle times pass
// exactly when a test says.
keel::TimePoint manual_now = keel::Clock::now();
keel::TimePoint manual_clock() {
    return manual_now;
}

TEST(Pool, MaxLifetimeAndIdleTimeRetireConnections) {
    Fixture f;
    Pool<FakeConn> life(PoolOptions{.max_open = 1, .max_lifetime = 30ms, .clock = manual_clock}, f.connect());
    Pool<FakeConn> idle(PoolOptions{.max_open = 1, .max_idle_time = 30ms, .clock = manual_clock}, f.connect());
    keel::LoopThread lt;
    lt.block_on([&]() -> Task<void> {
        { auto a = co_await life.acquire(); }
        { auto a = co_await idle.acquire(); }
        manual_now += 29ms;  // not yet
        { auto a = co_await life.acquire(); }
        { auto a = co_await idle.acquire(); }
        EXPECT_EQ(life.stats().max_lifetime_closed, 0u);
        EXPECT_EQ(idle.stats().max_idle_time_closed, 0u);
        manual_now += 30ms;
        { auto a = co_await life.acquire(); }
        { auto a = co_await idle.acquire(); }
    });
    EXPECT_EQ(life.stats().max_lifetime_closed, 1u);
    EXPECT_EQ(idle.stats().max_idle_time_closed, 1u);
    EXPECT_EQ(f.connects, 4);
}

TEST(Pool, PingsAfterIdleAndDropsADeadConnection) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 2, .check_after_idle = 20ms, .clock = manual_clock}, f.connect(),
                        f.ping());
    keel::LoopThread lt;
    int id = lt.block_on([&]() -> Task<int> {
        { auto a = co_await pool.acquire(); }
        { auto a = co_await pool.acquire(); }  // not idle long enough: no ping
        EXPECT_EQ(f.pings, 0);
        manual_now += 20ms;
        f.ping_ok = false;  // the server went away while the connection idled
        auto b = co_await pool.acquire();
        co_return (*b)->id;
    });
    EXPECT_EQ(f.pings, 1);
    EXPECT_EQ(id, 2);  // a fresh connection, not the dead one
}

TEST(Pool, BacksOffAfterAConnectFailureAndRecovers) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 2, .reconnect_min = 100ms}, f.connect());
    keel::LoopThread lt;
    f.fail_connect = true;
    auto first = lt.block_on([&]() -> Task<std::string> {
        auto a = co_await pool.acquire();
        co_return std::string(a.error().message());
    });
    EXPECT_NE(first.find("connection refused"), std::string::npos) << first;
    f.fail_connect = false;
    // Within the back-off window the pool answers at once without trying.
    auto during = lt.block_on([&]() -> Task<keel::Errc> {
        auto a = co_await pool.acquire();
        co_return a ? keel::Errc::internal : a.error().code();
    });
    EXPECT_EQ(during, keel::Errc::unavailable);
    EXPECT_EQ(f.connects, 0);
    // Once the window has passed, it tries again.
    EXPECT_TRUE(keel::test::eventually(
        [&] { return lt.block_on([&]() -> Task<bool> { co_return (co_await pool.acquire()).has_value(); }); }));
    EXPECT_EQ(pool.stats().connect_errors, 1u);
}

TEST(Pool, CloseFailsWaitersAndLaterAcquisitions) {
    Fixture f;
    Pool<FakeConn> pool(PoolOptions{.max_open = 1, .acquire_timeout = 5s}, f.connect());
    keel::LoopThread lt;
    auto code = lt.block_on([&]() -> Task<keel::Errc> {
        auto a = co_await pool.acquire();
        keel::Loop::current()->run_after(20ms, [&] { pool.close(); });
        auto b = co_await pool.acquire();
        co_return b ? keel::Errc::internal : b.error().code();
    });
    EXPECT_EQ(code, keel::Errc::closed);
}

}  // namespace
