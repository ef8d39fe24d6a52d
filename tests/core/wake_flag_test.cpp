// Loop's post/drain wake-up protocol (src/keel/core/wake_flag.hpp) run as a litmus test on
// this machine's CPU. Each round, the drain clears the flag and then reads the queue, while a
// post publishes a node and then raises the flag. The outcome that loses a wake-up: the drain
// saw no node and the post saw the flag still raised (so it did not wake the loop). With the
// drain's old plain store this happened here about 10 times per million rounds; the
// protocol must make it impossible.
#include "keel/core/wake_flag.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

struct alignas(64) Line {
    std::atomic<int> v{0};
};

TEST(WakeFlag, APostDuringADrainIsEitherSeenOrWakesTheLoop) {
    alignas(64) std::atomic<bool> flag{true};
    Line node, round, ack;
    std::atomic<bool> poster_woke{false};
    constexpr int kRounds = 1'000'000;
    // Bounded in time too, for slow (sanitized, loaded) builds: then fewer rounds run.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    std::atomic<int> last_round{kRounds};
    std::thread poster([&] {
        for (int i = 1; i <= last_round.load(std::memory_order_relaxed); ++i) {
            while (round.v.load(std::memory_order_acquire) != i) {
                if (round.v.load(std::memory_order_acquire) < 0) {
                    return;
                }
            }
            node.v.store(1, std::memory_order_release);  // MpscQueue::push publishes the node
            poster_woke.store(keel::detail::raise_wake(flag), std::memory_order_relaxed);
            ack.v.store(i, std::memory_order_release);
        }
    });
    int lost = 0, rounds = 0;
    for (int i = 1; i <= kRounds; ++i) {
        if ((i & 1023) == 0 && std::chrono::steady_clock::now() > give_up) {
            break;
        }
        flag.store(true, std::memory_order_relaxed);  // a wake-up is on its way: we are draining it
        node.v.store(0, std::memory_order_relaxed);
        round.v.store(i, std::memory_order_seq_cst);
        for (int spin = i % 64; spin > 0; --spin) {
            asm volatile("");  // vary where the post lands in the drain
        }
        keel::detail::clear_wake(flag);
        bool drain_saw_node = node.v.load(std::memory_order_acquire) == 1;
        while (ack.v.load(std::memory_order_acquire) != i) {
        }
        lost += !drain_saw_node && !poster_woke.load(std::memory_order_relaxed);
        rounds = i;
    }
    round.v.store(-1, std::memory_order_release);
    poster.join();
    EXPECT_EQ(lost, 0) << "lost wake-ups in " << rounds << " rounds";
    EXPECT_GT(rounds, 10'000);  // enough rounds ran to mean something
}

}  // namespace
