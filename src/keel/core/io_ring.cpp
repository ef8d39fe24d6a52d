#include <keel/core/io_ring.hpp>
#include <keel/core/loop.hpp>

#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel {

namespace {

constexpr unsigned kEntries = 4096;
constexpr unsigned kCompletionEntries = 16384;
constexpr unsigned kBatchWait = 64;
constexpr unsigned kFeatureMinTimeout = 1u << 15;  // IORING_FEAT_MIN_TIMEOUT (6.12), newer than liburing 2.3
constexpr std::uint16_t kBufferGroup = 0;
// user_data: a Completion's address with the RingOp in its low 3 bits; a watch (bit 63, the
// watch's generation, the descriptor); 0 for keel's own cancel/remove requests (ignored).
constexpr std::uint64_t kWatchBit = 1ull << 63;

std::uint64_t completion_data(Completion* c, RingOp op) noexcept {
    return reinterpret_cast<std::uintptr_t>(c) | static_cast<std::uint64_t>(op);
}

std::uint64_t watch_data(int fd, std::uint32_t gen) noexcept {
    return kWatchBit | (static_cast<std::uint64_t>(gen & 0x7fffffff) << 32) | static_cast<std::uint32_t>(fd);
}

[[noreturn]] void fail(const char* what, int err) {
    throw std::runtime_error(std::string("keel: io_uring: ") + what + ": " + std::strerror(err));
}

}  // namespace

struct IoRing::State {
    io_uring ring{};
    io_uring_buf_ring* buffer_ring = nullptr;
    std::size_t buffer_ring_bytes = 0;
    char* buffers = nullptr;
    // Per buffer: the inbox chain and how much of it is still unread.
    struct Held {
        std::uint16_t next = RingInbox::kNone;
        std::uint16_t offset = 0;
        std::uint16_t length = 0;
    };
    std::vector<Held> held = std::vector<Held>(kBuffers);
    struct Watch {
        IoWatcher* watcher = nullptr;
        std::uint32_t gen = 0;
        std::uint32_t events = 0;
    };
    std::vector<Watch> watches;  // by descriptor
    std::vector<std::pair<int, Completion*>> starved;
    bool disabled = false;  // until the loop's thread enables it
    bool registered_fd = false;
    unsigned batch_wait_us = 0;
    bool min_wait_supported = false;

    // A free submission slot, or null when even handing the queue over freed none.
    io_uring_sqe* try_sqe() noexcept {
        io_uring_sqe* s = io_uring_get_sqe(&ring);
        if (!s) {
            io_uring_submit(&ring);  // the queue is full: hand it over now
            s = io_uring_get_sqe(&ring);
        }
        return s;
    }
    io_uring_sqe* sqe() {
        io_uring_sqe* s = try_sqe();
        if (!s) {
            fail("submission queue full", EBUSY);
        }
        return s;
    }

    void give_back(std::uint16_t bid) noexcept {
        io_uring_buf_ring_add(buffer_ring, buffers + std::size_t{bid} * kBufferSize, kBufferSize, bid,
                              io_uring_buf_ring_mask(kBuffers), 0);
        io_uring_buf_ring_advance(buffer_ring, 1);
    }

    void arm_watch(int fd) {
        Watch& w = watches[static_cast<std::size_t>(fd)];
        io_uring_sqe* s = sqe();
        io_uring_prep_poll_multishot(s, fd, w.events);
        io_uring_sqe_set_data64(s, watch_data(fd, w.gen));
    }
};

IoRing::IoRing() : s_(std::make_unique<State>()) {
    // Completion work runs only when the loop asks for completions (DEFER_TASKRUN, 6.1+): no
    // interruption mid-iteration, and it comes in batches. That needs a single submitting
    // thread, fixed when run() enables the ring. Older kernels: cooperative (5.19), then plain.
    const unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
                              IORING_SETUP_COOP_TASKRUN, 0};
    io_uring_params p{};
    int r = -EINVAL;
    for (unsigned flags : tries) {
        p = {};
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | flags;
        p.cq_entries = kCompletionEntries;
        r = io_uring_queue_init_params(kEntries, &s_->ring, &p);
        if (r != -EINVAL) {
            s_->disabled = (flags & IORING_SETUP_R_DISABLED) != 0;
            break;
        }
    }
    if (r < 0) {
        fail("setup", -r);
    }
    s_->min_wait_supported = p.features & kFeatureMinTimeout;
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(&s_->ring);
        fail("this kernel lacks wait timeouts or overflow protection (needs 5.11)", ENOSYS);
    }
    s_->buffer_ring_bytes = kBuffers * sizeof(io_uring_buf);
    void* ring_mem = ::mmap(nullptr, s_->buffer_ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    void* buffer_mem =
        ::mmap(nullptr, kBuffers * kBufferSize, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED || buffer_mem == MAP_FAILED) {
        int err = errno;
        io_uring_queue_exit(&s_->ring);
        fail("buffers", err);
    }
    s_->buffer_ring = static_cast<io_uring_buf_ring*>(ring_mem);
    s_->buffers = static_cast<char*>(buffer_mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_mem);
    reg.ring_entries = kBuffers;
    reg.bgid = kBufferGroup;
    if (int rr = io_uring_register_buf_ring(&s_->ring, &reg, 0); rr < 0) {
        ::munmap(ring_mem, s_->buffer_ring_bytes);
        ::munmap(buffer_mem, kBuffers * kBufferSize);
        io_uring_queue_exit(&s_->ring);
        fail("provided buffer ring (needs 5.19)", -rr);
    }
    io_uring_buf_ring_init(s_->buffer_ring);
    for (unsigned i = 0; i < kBuffers; ++i) {
        io_uring_buf_ring_add(s_->buffer_ring, s_->buffers + std::size_t{i} * kBufferSize, kBufferSize,
                              static_cast<std::uint16_t>(i), io_uring_buf_ring_mask(kBuffers), static_cast<int>(i));
    }
    io_uring_buf_ring_advance(s_->buffer_ring, kBuffers);
}

IoRing::~IoRing() {
    io_uring_queue_exit(&s_->ring);  // cancels whatever is still in flight
    ::munmap(s_->buffer_ring, s_->buffer_ring_bytes);
    ::munmap(s_->buffers, kBuffers * kBufferSize);
}

void IoRing::accept(int listener, Completion* c) {
    io_uring_sqe* s = s_->sqe();
    io_uring_prep_multishot_accept(s, listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, completion_data(c, RingOp::accept));
}

void IoRing::recv(int fd, Completion* c) {
    io_uring_sqe* s = s_->sqe();
    io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(s, completion_data(c, RingOp::recv));
}

void IoRing::send(int fd, const char* data, std::size_t n, Completion* c) {
    io_uring_sqe* s = s_->sqe();
    io_uring_prep_send(s, fd, data, std::min<std::size_t>(n, 1u << 30), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, completion_data(c, RingOp::send));
}

void IoRing::poll(int fd, std::uint32_t events, Completion* c) {
    io_uring_sqe* s = s_->sqe();
    io_uring_prep_poll_add(s, fd, events);
    io_uring_sqe_set_data64(s, completion_data(c, RingOp::poll));
}

void IoRing::cancel(Completion* c, RingOp op) {
    io_uring_sqe* s = s_->sqe();
    io_uring_prep_cancel64(s, completion_data(c, op), IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(s, 0);
}

void IoRing::submit() {
    io_uring_submit(&s_->ring);
}

void IoRing::start_on_this_thread() {
    if (s_->disabled) {
        s_->disabled = false;
        // liburing 2.3 declares io_uring_enable_rings but does not export it: the syscall.
        if (::syscall(__NR_io_uring_register, s_->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
            fail("enable", errno);
        }
        s_->registered_fd = io_uring_register_ring_fd(&s_->ring) == 1;  // enter without a descriptor lookup
    }
}

bool IoRing::more(std::uint32_t flags) noexcept {
    return flags & IORING_CQE_F_MORE;
}
bool IoRing::has_buffer(std::uint32_t flags) noexcept {
    return flags & IORING_CQE_F_BUFFER;
}

void IoRing::hold(RingInbox& inbox, std::uint32_t flags, std::size_t n) noexcept {
    auto bid = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    s_->held[bid] = {RingInbox::kNone, 0, static_cast<std::uint16_t>(n)};
    if (inbox.empty()) {
        inbox.head = bid;
    } else {
        s_->held[inbox.tail].next = bid;
    }
    inbox.tail = bid;
}

std::size_t IoRing::take(RingInbox& inbox, char* dst, std::size_t n) noexcept {
    std::size_t copied = 0;
    while (copied < n && !inbox.empty()) {
        std::uint16_t bid = inbox.head;
        State::Held& h = s_->held[bid];
        std::size_t k = std::min<std::size_t>(h.length - h.offset, n - copied);
        std::memcpy(dst + copied, s_->buffers + std::size_t{bid} * kBufferSize + h.offset, k);
        copied += k;
        h.offset = static_cast<std::uint16_t>(h.offset + k);
        if (h.offset == h.length) {
            inbox.head = h.next;
            if (inbox.empty()) {
                inbox.tail = RingInbox::kNone;
            }
            s_->give_back(bid);
            if (!s_->starved.empty()) {
                auto [fd, c] = s_->starved.front();
                s_->starved.erase(s_->starved.begin());
                recv(fd, c);
            }
        }
    }
    return copied;
}

void IoRing::drop(RingInbox& inbox) noexcept {
    while (!inbox.empty()) {
        std::uint16_t bid = inbox.head;
        inbox.head = s_->held[bid].next;
        s_->give_back(bid);
    }
    inbox.tail = RingInbox::kNone;
}

unsigned IoRing::held(const RingInbox& inbox) const noexcept {
    unsigned n = 0;
    for (std::uint16_t b = inbox.head; b != RingInbox::kNone; b = s_->held[b].next) {
        ++n;
    }
    return n;
}

void IoRing::recv_when_buffers_return(int fd, Completion* c) {
    s_->starved.emplace_back(fd, c);
}

bool IoRing::forget(Completion* c) noexcept {
    return std::erase_if(s_->starved, [c](const auto& s) { return s.second == c; }) > 0;
}

void IoRing::watch(int fd, std::uint32_t events, IoWatcher* w) {
    auto i = static_cast<std::size_t>(fd);
    if (i >= s_->watches.size()) {
        s_->watches.resize(std::max(i + 1, s_->watches.size() * 2));
    }
    State::Watch& slot = s_->watches[i];
    if (slot.watcher) {
        io_uring_sqe* s = s_->sqe();  // a modify: the old poll goes, its late events are ignored
        io_uring_prep_poll_remove(s, watch_data(fd, slot.gen));
        io_uring_sqe_set_data64(s, 0);
    }
    slot.watcher = w;
    slot.gen = (slot.gen + 1) & 0x7fffffff;
    slot.events = events;
    s_->arm_watch(fd);
}

void IoRing::unwatch(int fd) noexcept {
    auto i = static_cast<std::size_t>(fd);
    if (i >= s_->watches.size() || !s_->watches[i].watcher) {
        return;
    }
    State::Watch& slot = s_->watches[i];
    if (io_uring_sqe* s = s_->try_sqe()) {  // noexcept: without a slot the poll stays, its events ignored
        io_uring_prep_poll_remove(s, watch_data(fd, slot.gen));
        io_uring_sqe_set_data64(s, 0);
    }
    slot.watcher = nullptr;
    slot.gen = (slot.gen + 1) & 0x7fffffff;
}

bool IoRing::set_batch_wait(std::chrono::microseconds wait) noexcept {
    if (!s_->min_wait_supported) {
        return wait.count() == 0;
    }
    s_->batch_wait_us = static_cast<unsigned>(std::clamp<long long>(wait.count(), 0, 1'000'000));
    return true;
}

void IoRing::wait(int timeout_ms) {
    // One io_uring_enter: submit what the iteration queued, run the deferred completion work,
    // and sleep if nothing completed. (By hand rather than liburing's submit_and_wait_timeout:
    // liburing 2.3 cannot pass the kernel's min_wait.)
    io_uring_sq& sq = s_->ring.sq;
    unsigned tail = sq.sqe_tail;
    if (sq.sqe_head != tail) {
        sq.sqe_head = tail;
        io_uring_smp_store_release(sq.ktail, tail);
    }
    unsigned to_submit = tail - io_uring_smp_load_acquire(sq.khead);
    io_uring_getevents_arg arg{};
    arg.sigmask_sz = _NSIG / 8;
    __kernel_timespec ts{};
    unsigned wait_nr = timeout_ms == 0 ? 0 : 1;
    if (timeout_ms > 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
        arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
    }
    if (wait_nr > 0 && s_->batch_wait_us > 0) {
        wait_nr = kBatchWait;
        arg.pad = s_->batch_wait_us;  // min_wait_usec (6.12+): sleep this long for a fuller batch
    }
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    int fd = s_->ring.ring_fd;
    if (s_->registered_fd) {
        flags |= IORING_ENTER_REGISTERED_RING;
        fd = s_->ring.enter_ring_fd;
    }
    ::syscall(__NR_io_uring_enter, fd, to_submit, wait_nr, flags, &arg, sizeof arg);
}

int IoRing::dispatch() {
    io_uring_cqe* cqe = nullptr;
    // Copy a batch out first: handlers queue new requests and may submit (which could otherwise
    // see a full completion queue).
    struct Done {
        std::uint64_t data;
        int result;
        std::uint32_t flags;
    };
    constexpr unsigned kBatch = 256;
    Done batch[kBatch];
    int total = 0;
    for (;;) {
        unsigned n = 0;
        unsigned head;
        io_uring_for_each_cqe(&s_->ring, head, cqe) {
            if (n == kBatch) {
                break;
            }
            batch[n++] = {cqe->user_data, cqe->res, cqe->flags};
        }
        io_uring_cq_advance(&s_->ring, n);
        for (unsigned i = 0; i < n; ++i) {
            const Done& d = batch[i];
            if (d.data == 0) {
                continue;
            }
            if (d.data & kWatchBit) {
                auto fd = static_cast<std::size_t>(static_cast<std::uint32_t>(d.data));
                auto gen = static_cast<std::uint32_t>(d.data >> 32) & 0x7fffffff;
                if (fd >= s_->watches.size() || s_->watches[fd].gen != gen || !s_->watches[fd].watcher) {
                    continue;  // a removed or replaced watch
                }
                IoWatcher* w = s_->watches[fd].watcher;
                if (d.result < 0) {
                    if (d.result != -ECANCELED) {
                        w->on_io(POLLERR);
                    }
                    continue;
                }
                if (!(d.flags & IORING_CQE_F_MORE)) {
                    s_->arm_watch(static_cast<int>(fd));  // the kernel ended it (a full queue): again
                }
                w->on_io(static_cast<std::uint32_t>(d.result));
                continue;
            }
            auto* c = reinterpret_cast<Completion*>(d.data & ~std::uint64_t{7});
            c->on_complete(static_cast<RingOp>(d.data & 7), d.result, d.flags);
        }
        total += static_cast<int>(n);
        if (n < kBatch) {
            return total;
        }
    }
}

}  // namespace keel
