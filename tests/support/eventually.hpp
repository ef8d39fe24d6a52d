#pragma once
// Waiting in tests for something another thread or process does: poll every 10 ms until
// `pred` holds or `within` has passed; the result of a last try.

#include <chrono>
#include <thread>

namespace keel::test {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = std::chrono::seconds(3)) {
    for (auto end = std::chrono::steady_clock::now() + within; std::chrono::steady_clock::now() < end;) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

}  // namespace keel::test
