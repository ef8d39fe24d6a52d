#define _GNU_SOURCE
/* The floor for bench/run: an epoll server that answers every "\r\n\r\n" it sees with a canned
 * response, without parsing anything. No real server can be cheaper per request than this on
 * the same kernel path, so every report shows how close keel comes to it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char kResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\nHello, World!";

int main(int argc, char** argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8090;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr*)&a, sizeof a) || listen(ls, 4096))
        return 1;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static char in[65536], out[65536 * 2];
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, in, sizeof in);
            if (r <= 0) {
                close(fd);
                continue;
            }
            size_t len = 0;
            for (ssize_t k = 3; k < r; ++k) {
                if (in[k] == '\n' && in[k - 1] == '\r' && in[k - 2] == '\n' && in[k - 3] == '\r') {
                    memcpy(out + len, kResponse, sizeof kResponse - 1);
                    len += sizeof kResponse - 1;
                }
            }
            if (len && write(fd, out, len) < 0)
                close(fd);
        }
    }
}
