#pragma once
/// keel::destroy_on_loop: deletes an object whose file descriptors are watched by `loop` on
/// that loop's thread (watchers may only be touched there), waiting up to two seconds. A loop
/// that has stopped no longer touches them, so the object is deleted here at once; a loop that
/// runs but does not answer in time keeps it (a leak at exit, never a crash).

#include <keel/core/loop.hpp>

#include <chrono>
#include <future>
#include <memory>

namespace keel {

template <class T>
void destroy_on_loop(Loop& loop, std::unique_ptr<T> object) {
    if (!loop.running()) {
        return;  // `object` goes out of scope here
    }
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    T* raw = object.release();
    // Posted work runs in the middle of an event batch, whose later events may still name the
    // object's watchers: the delete waits for the end of the batch (defer).
    loop.post([&loop, raw, done] {
        loop.defer([raw, done] {
            delete raw;
            done->set_value();
        });
    });
    (void)finished.wait_for(std::chrono::seconds(2));
}

}  // namespace keel
