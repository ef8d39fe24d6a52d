#include "probe.hpp"

#include <keel/net/address.hpp>
#include <keel/net/socket.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace linkd {

int probe(const std::string& url) {
    auto fail = [&](const std::string& why) {
        std::fprintf(stderr, "linkd probe %s: %s\n", url.c_str(), why.c_str());
        return 1;
    };
    std::string_view rest = url;
    if (rest.substr(0, 7) != "http://") {
        return fail("only http://HOST:PORT/PATH URLs");
    }
    rest.remove_prefix(7);
    std::size_t slash = std::min(rest.find('/'), rest.size());
    auto hp = keel::net::parse_host_port(rest.substr(0, slash), 80);
    auto addr = hp ? keel::net::Address::parse(hp->host, hp->port) : keel::Result<keel::net::Address>(hp.error());
    if (!addr) {
        return fail("the host must be a numeric address");
    }
    std::string path = slash < rest.size() ? std::string(rest.substr(slash)) : "/";
    keel::net::Fd fd(::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{2, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), addr->sockaddr_ptr(), addr->length()) != 0) {
        return fail(std::string("connect: ") + std::strerror(errno));
    }
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + std::string(rest.substr(0, slash)) +
                          "\r\nConnection: close\r\nUser-Agent: linkd-probe\r\n\r\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        return fail(std::string("send: ") + std::strerror(errno));
    }
    char head[16] = {};
    std::size_t got = 0;
    while (got < 12) {  // "HTTP/1.1 200"
        ssize_t n = ::recv(fd.get(), head + got, 12 - got, 0);
        if (n <= 0) {
            return fail(n == 0 ? "closed before a status line" : std::string("recv: ") + std::strerror(errno));
        }
        got += static_cast<std::size_t>(n);
    }
    if (std::string_view(head, 5) != "HTTP/" || head[9] != '2') {
        return fail("answered " + std::string(head, 12));
    }
    return 0;
}

}  // namespace linkd
