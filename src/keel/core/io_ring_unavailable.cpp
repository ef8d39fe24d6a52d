// IoRing in a keel built without liburing: no ring can be made, so the io_uring back-end fails
// the way it does on a kernel without io_uring (the Loop's constructor throws) and every
// other member is unreachable.
#include <keel/core/io_ring.hpp>

#include <cstdlib>
#include <stdexcept>

namespace keel {

struct IoRing::State {};

IoRing::IoRing() {
    throw std::runtime_error(
        "io_uring: keel was built without liburing (KEEL_IO_URING=OFF); use server.io = \"epoll\"");
}
IoRing::~IoRing() = default;

void IoRing::accept(int, Completion*) {
    std::abort();
}
void IoRing::recv(int, Completion*) {
    std::abort();
}
void IoRing::send(int, const char*, std::size_t, Completion*) {
    std::abort();
}
void IoRing::poll(int, std::uint32_t, Completion*) {
    std::abort();
}
void IoRing::cancel(Completion*, RingOp) {
    std::abort();
}
void IoRing::submit() {
    std::abort();
}
void IoRing::start_on_this_thread() {
    std::abort();
}
bool IoRing::more(std::uint32_t) noexcept {
    return false;
}
bool IoRing::has_buffer(std::uint32_t) noexcept {
    return false;
}
void IoRing::hold(RingInbox&, std::uint32_t, std::size_t) noexcept {
    std::abort();
}
std::size_t IoRing::take(RingInbox&, char*, std::size_t) noexcept {
    std::abort();
}
void IoRing::drop(RingInbox&) noexcept {
    std::abort();
}
unsigned IoRing::held(const RingInbox&) const noexcept {
    std::abort();
}
void IoRing::recv_when_buffers_return(int, Completion*) {
    std::abort();
}
bool IoRing::forget(Completion*) noexcept {
    std::abort();
}
void IoRing::watch(int, std::uint32_t, IoWatcher*) {
    std::abort();
}
void IoRing::unwatch(int) noexcept {
    std::abort();
}
bool IoRing::set_batch_wait(std::chrono::microseconds) noexcept {
    std::abort();
}
void IoRing::wait(int) {
    std::abort();
}
int IoRing::dispatch() {
    std::abort();
}

}  // namespace keel
