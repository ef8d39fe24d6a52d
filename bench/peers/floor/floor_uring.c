#define _GNU_SOURCE
/* The io_uring floor for bench/run: floor.c's work (answer every "\r\n\r\n" with a canned
 * response, parse nothing) on the calls keel's io_uring back-end makes: a multishot accept, a
 * multishot recv per connection into a provided-buffer ring (1,024 x 4 KiB), sends queued
 * during an iteration and submitted with the next wait, a ring with DEFER_TASKRUN and
 * SINGLE_ISSUER and a registered ring descriptor. It is what io_uring itself can save over
 * the epoll floor on this kernel, with no HTTP work on top. With "fixed" after the port,
 * connections are accepted straight into the ring's file table (no descriptor lookups per
 * operation; no TCP_NODELAY, which liburing 2.3 cannot set on such a socket). */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char kResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\nHello, World!";

enum { kAccept = 1, kRecv = 2, kSend = 3 };
enum { kBuffers = 1024, kBufferSize = 4096, kMaxFd = 65536, kOutSize = 65536 };

/* Per connection: the bytes a send has in flight, and the bytes waiting behind it. */
struct conn {
    char* sending;
    size_t sending_len, sent;
    char* waiting;
    size_t waiting_len;
    int busy;  /* a send is in flight */
    int ended; /* the recv ended while it was: close when it completes */
};

static struct io_uring ring;
static int fixed; /* "fixed" as the second argument: accepted sockets live in the ring's file table */
static struct io_uring_buf_ring* buffers;
static char* buffer_memory;
static struct conn conns[kMaxFd];

static struct io_uring_sqe* sqe(void) {
    struct io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (!s) {
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}

static void arm_recv(int fd) {
    struct io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT | (fixed ? IOSQE_FIXED_FILE : 0);
    s->buf_group = 0;
    io_uring_sqe_set_data64(s, (unsigned long long)kRecv << 32 | (unsigned)fd);
}

static void send_some(int fd) {
    struct conn* c = &conns[fd];
    struct io_uring_sqe* s = sqe();
    io_uring_prep_send(s, fd, c->sending + c->sent, c->sending_len - c->sent, MSG_NOSIGNAL);
    if (fixed)
        s->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(s, (unsigned long long)kSend << 32 | (unsigned)fd);
    c->busy = 1;
}

static void give_back(unsigned bid) {
    io_uring_buf_ring_add(buffers, buffer_memory + (size_t)bid * kBufferSize, kBufferSize, bid,
                          io_uring_buf_ring_mask(kBuffers), 0);
    io_uring_buf_ring_advance(buffers, 1);
}

static void close_conn(int fd) {
    if (fixed) {
        struct io_uring_sqe* s = sqe();
        io_uring_prep_close_direct(s, (unsigned)fd);
        io_uring_sqe_set_data64(s, 0);
    } else {
        close(fd);
    }
}

static void drop(int fd) {
    if (conns[fd].busy)
        conns[fd].ended = 1;
    else
        close_conn(fd);
}

static void on_recv(int fd, int res, unsigned flags) {
    struct conn* c = &conns[fd];
    if (res <= 0) {
        if (res == -ENOBUFS) {
            arm_recv(fd);
            return;
        }
        drop(fd);
        return;
    }
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    const char* in = buffer_memory + (size_t)bid * kBufferSize;
    for (int k = 3; k < res; ++k) {
        if (in[k] == '\n' && in[k - 1] == '\r' && in[k - 2] == '\n' && in[k - 3] == '\r' &&
            c->waiting_len + sizeof kResponse - 1 <= kOutSize) {
            memcpy(c->waiting + c->waiting_len, kResponse, sizeof kResponse - 1);
            c->waiting_len += sizeof kResponse - 1;
        }
    }
    give_back(bid);
    if (!(flags & IORING_CQE_F_MORE))
        arm_recv(fd);
    if (!c->busy && c->waiting_len) {
        char* t = c->sending;
        c->sending = c->waiting, c->sending_len = c->waiting_len, c->sent = 0;
        c->waiting = t, c->waiting_len = 0;
        send_some(fd);
    }
}

static void on_sent(int fd, int res) {
    struct conn* c = &conns[fd];
    c->busy = 0;
    if (c->ended || res < 0) {
        close_conn(fd); /* a recv still armed ends with the close */
        return;
    }
    c->sent += (size_t)res;
    if (c->sent < c->sending_len) {
        send_some(fd);
    } else if (c->waiting_len) {
        char* t = c->sending;
        c->sending = c->waiting, c->sending_len = c->waiting_len, c->sent = 0;
        c->waiting = t, c->waiting_len = 0;
        send_some(fd);
    }
}

int main(int argc, char** argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8090;
    fixed = argc > 2 && strcmp(argv[2], "fixed") == 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr*)&a, sizeof a) || listen(ls, 4096))
        return 1;

    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
                                         IORING_SETUP_SUBMIT_ALL,
                                .cq_entries = 16384};
    if (io_uring_queue_init_params(4096, &ring, &p) < 0)
        return 2;
    io_uring_register_ring_fd(&ring);
    if (posix_memalign((void**)&buffers, 4096, kBuffers * sizeof(struct io_uring_buf)) ||
        posix_memalign((void**)&buffer_memory, 4096, (size_t)kBuffers * kBufferSize))
        return 3;
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)buffers, .ring_entries = kBuffers, .bgid = 0};
    if (io_uring_register_buf_ring(&ring, &reg, 0) < 0)
        return 4;
    io_uring_buf_ring_init(buffers);
    for (unsigned i = 0; i < kBuffers; ++i)
        io_uring_buf_ring_add(buffers, buffer_memory + (size_t)i * kBufferSize, kBufferSize, i,
                              io_uring_buf_ring_mask(kBuffers), i);
    io_uring_buf_ring_advance(buffers, kBuffers);

    /* The file table may not exceed RLIMIT_NOFILE. */
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    unsigned slots = nofile.rlim_cur < kMaxFd ? (unsigned)nofile.rlim_cur : kMaxFd;
    if (fixed && io_uring_register_files_sparse(&ring, slots) < 0)
        return 6;
    struct io_uring_sqe* s = sqe();
    if (fixed)
        io_uring_prep_multishot_accept_direct(s, ls, NULL, NULL, 0);
    else
        io_uring_prep_multishot_accept(s, ls, NULL, NULL, SOCK_NONBLOCK);
    io_uring_sqe_set_data64(s, (unsigned long long)kAccept << 32);
    for (;;) {
        io_uring_submit_and_wait(&ring, 1);
        unsigned head, seen = 0;
        struct io_uring_cqe* cqe;
        io_uring_for_each_cqe(&ring, head, cqe) {
            ++seen;
            int op = (int)(cqe->user_data >> 32), fd = (int)(cqe->user_data & 0xffffffff);
            if (op == kAccept) {
                if (cqe->res >= 0 && cqe->res < kMaxFd) {
                    int c = cqe->res; /* a descriptor, or with "fixed" a slot in the file table */
                    if (!fixed)
                        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (!conns[c].sending) {
                        conns[c].sending = malloc(kOutSize);
                        conns[c].waiting = malloc(kOutSize);
                    }
                    conns[c].sending_len = conns[c].sent = conns[c].waiting_len = 0;
                    conns[c].busy = conns[c].ended = 0;
                    arm_recv(c);
                }
                if (!(cqe->flags & IORING_CQE_F_MORE))
                    return 5;
            } else if (op == kRecv) {
                on_recv(fd, cqe->res, cqe->flags);
            } else if (op == kSend) {
                on_sent(fd, cqe->res);
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
}
