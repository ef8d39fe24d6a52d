#pragma once
/// keel::mw::real_ip: the client's address when keel runs behind proxies. The forwarding
/// headers (`X-Forwarded-For`, `X-Real-IP`, `Forwarded: for=`) are believed only when the TCP
/// peer is one of `trusted_proxies` (CIDRs such as "10.0.0.0/8", "127.0.0.1/32", "::1/128");
/// for X-Forwarded-For the rightmost address that is not itself a trusted proxy wins, so a
/// client cannot spoof it by sending its own header. Otherwise the peer address is the client.
/// The result is in the request context (ClientIp); client_ip(req) reads it (or the peer).

#include <keel/http/middleware.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace keel::mw {

struct ClientIp {
    char data[46];  // INET6_ADDRSTRLEN
    unsigned char size = 0;
    std::string_view view() const noexcept { return {data, size}; }
};

/// The client address chosen by real_ip(), or the TCP peer's address when it is not installed.
std::string client_ip(http::Request& req);

/// Throws std::invalid_argument ("keel: real_ip: ...") for a malformed CIDR.
http::Middleware real_ip(const std::vector<std::string>& trusted_proxies);

}  // namespace keel::mw
