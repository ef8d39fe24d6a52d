// The completion back-end: the loop waits on an IoRing. Descriptors watched for readiness get a
// multishot poll each; sockets that opt in (IoRing's accept, recv, send) complete on it directly.
#include <keel/core/io_ring.hpp>

#include "loop_backend.hpp"

namespace keel::detail {
namespace {

class IoUringBackend final : public LoopBackend {
  public:
    Result<void> watch(int fd, std::uint32_t events, IoWatcher* watcher) override {
        ring_.watch(fd, events, watcher);
        return {};
    }
    Result<void> modify(int fd, std::uint32_t events, IoWatcher* watcher) override {
        ring_.watch(fd, events, watcher);  // a new multishot poll replaces the old one
        return {};
    }
    void unwatch(int fd) noexcept override { ring_.unwatch(fd); }

    void start_on_this_thread() override { ring_.start_on_this_thread(); }
    bool wait(int timeout_ms) override {
        ring_.wait(timeout_ms);
        return true;
    }
    int dispatch() override { return ring_.dispatch(); }
    int finish() override {
        ring_.wait(0);
        return ring_.dispatch();
    }
    IoRing* ring() noexcept override { return &ring_; }

  private:
    IoRing ring_;  // throws when io_uring is unavailable (or keel was built without liburing)
};

}  // namespace

std::unique_ptr<LoopBackend> make_io_uring_backend() {
    return std::make_unique<IoUringBackend>();
}

}  // namespace keel::detail
