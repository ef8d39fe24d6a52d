#pragma once
/// keel::IoRing: the io_uring side of a Loop made with IoBackend::io_uring (liburing stays in
/// io_ring.cpp). The loop waits on the ring instead of epoll; Loop::watch still works (a
/// multishot poll per descriptor), and sockets that opt in — keel's plain-TCP HTTP connections
/// and listeners — are served by completions: multishot accept, multishot recv into a ring of
/// buffers the kernel picks from, and sends queued during an iteration and submitted together
/// with the next wait (one io_uring_enter per iteration, however many connections it served).
///
/// Loop thread only, like the Loop.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace keel {

class IoWatcher;

enum class IoBackend : std::uint8_t { epoll, io_uring };
std::string_view to_string(IoBackend b) noexcept;
/// "epoll" or "io_uring".
std::optional<IoBackend> parse_io_backend(std::string_view name) noexcept;
/// False when keel was built without liburing (KEEL_IO_URING=OFF, or AUTO on a machine without
/// it): a Loop on IoBackend::io_uring then throws, as on a kernel without io_uring.
bool io_uring_built() noexcept;

enum class RingOp : std::uint8_t { accept = 1, recv = 2, send = 3, poll = 4 };

/// Receives the completions of the ring operations it started. Must be 8-byte aligned (its
/// address carries the operation in the low bits) and outlive every operation it has in flight.
class Completion {
  public:
    /// `result` is what the syscall would return (a negative errno on failure); `flags` the
    /// completion's (IoRing::more, IoRing::has_buffer).
    virtual void on_complete(RingOp op, int result, std::uint32_t flags) = 0;

  protected:
    ~Completion() = default;
};

/// Received bytes held in ring buffers, in arrival order: a connection's inbox (4 bytes).
struct RingInbox {
    static constexpr std::uint16_t kNone = 0xffff;
    std::uint16_t head = kNone;
    std::uint16_t tail = kNone;
    bool empty() const noexcept { return head == kNone; }
};

class IoRing {
  public:
    static constexpr std::size_t kBufferSize = 4096;
    static constexpr unsigned kBuffers = 1024;  // 4 MiB of receive buffers per loop

    /// Throws std::runtime_error when io_uring or a feature keel needs is unavailable.
    IoRing();
    ~IoRing();
    IoRing(const IoRing&) = delete;
    IoRing& operator=(const IoRing&) = delete;

    // Completion-based operations, submitted with the loop's next wait.
    /// Multishot accept: one completion per connection (result: its descriptor).
    void accept(int listener, Completion* c);
    /// Multishot recv into the buffer ring: one completion per arrival (hold() its buffer).
    void recv(int fd, Completion* c);
    /// One send of [data, data + n); the bytes must stay put until it completes.
    void send(int fd, const char* data, std::size_t n, Completion* c);
    /// One-shot poll (result: the ready events).
    void poll(int fd, std::uint32_t events, Completion* c);
    /// Cancels every `op` of `c` in flight; each still completes (-ECANCELED, or its result).
    void cancel(Completion* c, RingOp op);
    /// Submits what is queued now rather than with the next wait (before closing a listener).
    void submit();
    /// Called by Loop::run: the ring's submissions come from this thread from now on (one
    /// thread per ring lets the kernel defer completion work until the loop waits).
    void start_on_this_thread();

    static bool more(std::uint32_t flags) noexcept;        ///< a multishot operation goes on
    static bool has_buffer(std::uint32_t flags) noexcept;  ///< a recv completion filled a buffer

    // The bytes received (recv completions with a buffer).
    /// Appends the completion's buffer (`n` bytes) to `inbox`.
    void hold(RingInbox& inbox, std::uint32_t flags, std::size_t n) noexcept;
    /// Copies up to `n` bytes out of `inbox`; emptied buffers go back to the kernel.
    std::size_t take(RingInbox& inbox, char* dst, std::size_t n) noexcept;
    /// Gives back everything `inbox` holds.
    void drop(RingInbox& inbox) noexcept;
    /// How many buffers `inbox` holds.
    unsigned held(const RingInbox& inbox) const noexcept;
    /// A recv ended with -ENOBUFS (every buffer held): re-armed on `fd` for `c` as soon as one
    /// comes back. forget(c) before `c` goes away (true: it was waiting).
    void recv_when_buffers_return(int fd, Completion* c);
    bool forget(Completion* c) noexcept;

    // Loop::watch on this back-end: a multishot poll per descriptor, edge-triggered.
    void watch(int fd, std::uint32_t events, IoWatcher* w);
    void unwatch(int fd) noexcept;

    /// A wait for completions sleeps up to `wait` longer while fewer than 64 are ready, so one
    /// wake-up serves more (less CPU per request under load, up to `wait` more latency when
    /// light). 0: wake for the first. False when the kernel cannot (before 6.12).
    bool set_batch_wait(std::chrono::microseconds wait) noexcept;
    /// Submits everything queued and waits up to `timeout_ms` (-1: no limit; 0: not at all) for
    /// a completion.
    void wait(int timeout_ms);
    /// Hands every completion to its Completion or watcher; returns how many there were.
    int dispatch();

  private:
    struct State;
    std::unique_ptr<State> s_;
};

}  // namespace keel
