// keel::PerLoop: one object per loop, the same one on every call from that loop, two owners on
// one thread kept apart, and each object destroyed on its own loop's thread.
#include <keel/core/loop_thread.hpp>
#include <keel/core/per_loop.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <vector>

namespace {

struct Thing {
    explicit Thing(keel::Loop& l, std::vector<std::thread::id>* d) : loop(&l), destroyed_on(d) {}
    ~Thing() { destroyed_on->push_back(std::this_thread::get_id()); }
    keel::Loop* loop;
    std::vector<std::thread::id>* destroyed_on;
};

/// Runs f on `t`'s loop and returns what it returned.
template <class T>
keel::Task<T> call(std::function<T()> f) {
    co_return f();
}

template <class T>
T on(keel::LoopThread& t, std::function<T()> f) {
    return t.block_on([&] { return call<T>(f); });
}

TEST(PerLoop, OneObjectPerLoopDestroyedOnItsLoop) {
    keel::LoopThread a, b;
    std::vector<std::thread::id> destroyed;
    std::thread::id thread_a = on<std::thread::id>(a, [] { return std::this_thread::get_id(); });
    {
        auto make = [&](keel::Loop& l) { return std::make_unique<Thing>(l, &destroyed); };
        keel::PerLoop<Thing> one(make), two(make);
        Thing* a1 = on<Thing*>(a, [&] { return &one.get(); });
        Thing* a2 = on<Thing*>(a, [&] { return &one.get(); });
        Thing* a_two = on<Thing*>(a, [&] { return &two.get(); });  // another owner, same thread
        Thing* a3 = on<Thing*>(a, [&] { return &one.get(); });
        Thing* b1 = on<Thing*>(b, [&] { return &one.get(); });
        EXPECT_EQ(a1, a2);
        EXPECT_EQ(a1, a3);
        EXPECT_NE(a1, a_two);
        EXPECT_NE(a1, b1);
        EXPECT_EQ(a1->loop, &a.loop());
        EXPECT_EQ(b1->loop, &b.loop());
    }
    ASSERT_EQ(destroyed.size(), 3u);
    EXPECT_EQ(std::count(destroyed.begin(), destroyed.end(), thread_a), 2);  // one's and two's
}

}  // namespace
