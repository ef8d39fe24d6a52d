#include <keel/net/address.hpp>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace keel::net {

Result<HostPort> parse_host_port(std::string_view text, std::optional<std::uint16_t> default_port) {
    HostPort out;
    std::string_view port;
    bool has_port = false;
    if (!text.empty() && text.front() == '[') {
        std::size_t close = text.find(']');
        if (close == std::string_view::npos) {
            return Error(Errc::invalid_argument, "unclosed '[' in the address");
        }
        out.host = std::string(text.substr(1, close - 1));
        std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return Error(Errc::invalid_argument, "expected ':port' after ']'");
            }
            port = rest.substr(1);
            has_port = true;
        }
    } else {
        std::size_t colon = text.rfind(':');
        if (colon != std::string_view::npos && text.find(':') != colon) {
            // Several colons and no brackets: an IPv6 address without a port.
            out.host = std::string(text);
        } else if (colon != std::string_view::npos) {
            out.host = std::string(text.substr(0, colon));
            port = text.substr(colon + 1);
            has_port = true;
        } else {
            out.host = std::string(text);
        }
    }
    if (!has_port) {
        if (!default_port) {
            return Error(Errc::invalid_argument, "missing port (host:port)");
        }
        out.port = *default_port;
        return out;
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
        return Error(Errc::invalid_argument, "port must be a number from 0 to 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
    return out;
}

Result<Address> Address::parse(std::string_view host, std::uint16_t port) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    std::string h(host);
    Address a;
    if (h.empty() || h == "localhost") {
        h = "127.0.0.1";
    }
    sockaddr_in* v4 = &a.storage_.v4;
    if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len_ = sizeof(sockaddr_in);
        return a;
    }
    sockaddr_in6* v6 = &a.storage_.v6;
    if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len_ = sizeof(sockaddr_in6);
        return a;
    }
    return Error::with_detail(Errc::invalid_argument,
                              "not a numeric IPv4 or IPv6 address: \"" + std::string(host) + "\"");
}

Address Address::from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
    Address a;
    if (len > sizeof(a.storage_)) {  // not IPv4 or IPv6: only the family is kept meaningful
        len = sizeof(a.storage_);
    }
    std::memcpy(&a.storage_, sa, len);
    a.len_ = len;
    return a;
}

std::uint16_t Address::port() const noexcept {
    if (storage_.any.sa_family == AF_INET) {
        return ntohs(storage_.v4.sin_port);
    }
    if (storage_.any.sa_family == AF_INET6) {
        return ntohs(storage_.v6.sin6_port);
    }
    return 0;
}

std::string Address::host() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (storage_.any.sa_family == AF_INET) {
        // Formatted by hand: inet_ntop goes through sprintf, and access logs ask per request.
        const auto* b = reinterpret_cast<const unsigned char*>(&storage_.v4.sin_addr);
        char* p = buf;
        for (int i = 0; i < 4; ++i) {
            unsigned v = b[i];
            if (v >= 100) {
                *p++ = static_cast<char>('0' + v / 100);
            }
            if (v >= 10) {
                *p++ = static_cast<char>('0' + v / 10 % 10);
            }
            *p++ = static_cast<char>('0' + v % 10);
            if (i < 3) {
                *p++ = '.';
            }
        }
        return std::string(buf, static_cast<std::size_t>(p - buf));
    } else if (storage_.any.sa_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &storage_.v6.sin6_addr, buf, sizeof buf);
    }
    return buf;
}

std::string Address::to_string() const {
    if (storage_.any.sa_family == AF_INET6) {
        return "[" + host() + "]:" + std::to_string(port());
    }
    return host() + ":" + std::to_string(port());
}

}  // namespace keel::net
