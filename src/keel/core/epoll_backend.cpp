// The readiness back-end: one epoll instance, edge-triggered, events delivered in batches.
#include <keel/core/loop.hpp>

#include "loop_backend.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace keel::detail {
namespace {

class EpollBackend final : public LoopBackend {
  public:
    EpollBackend() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (fd_ < 0) {
            throw std::runtime_error(std::string("keel: cannot create event loop: ") + std::strerror(errno));
        }
    }
    ~EpollBackend() override { ::close(fd_); }

    Result<void> watch(int fd, std::uint32_t events, IoWatcher* watcher) override {
        return control(EPOLL_CTL_ADD, fd, events, watcher);
    }
    Result<void> modify(int fd, std::uint32_t events, IoWatcher* watcher) override {
        return control(EPOLL_CTL_MOD, fd, events, watcher);
    }
    void unwatch(int fd) noexcept override { ::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }

    bool wait(int timeout_ms) override {
        ready_ = ::epoll_wait(fd_, events_, kMaxEvents, timeout_ms);
        if (ready_ < 0) {
            ready_ = 0;
            return errno == EINTR;
        }
        return true;
    }
    int dispatch() override {
        int n = ready_;
        ready_ = 0;
        for (int i = 0; i < n; ++i) {
            static_cast<IoWatcher*>(events_[i].data.ptr)->on_io(events_[i].events);
        }
        return n;
    }

  private:
    static constexpr int kMaxEvents = 256;

    Result<void> control(int op, int fd, std::uint32_t events, IoWatcher* watcher) {
        epoll_event ev{};
        ev.events = events | EPOLLET;
        ev.data.ptr = watcher;
        if (::epoll_ctl(fd_, op, fd, &ev) != 0) {
            return Error::with_detail(Errc::io, std::string("epoll_ctl: ") + std::strerror(errno));
        }
        return {};
    }

    int fd_;
    int ready_ = 0;
    epoll_event events_[kMaxEvents];
};

}  // namespace

std::unique_ptr<LoopBackend> make_epoll_backend() {
    return std::make_unique<EpollBackend>();
}

}  // namespace keel::detail
