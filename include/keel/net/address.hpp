#pragma once
/// keel::net::Address: an IPv4 or IPv6 socket address, small and copyable, printable as
/// "1.2.3.4:80" / "[::1]:80". Used for listeners and for a request's remote peer.

#include <keel/core/result.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace keel::net {

class Address {
public:
    Address() noexcept { storage_.ss_family = AF_UNSPEC; }

    /// Parses a numeric host ("127.0.0.1", "::1", "[::1]", "0.0.0.0") and a port. No DNS.
    static Result<Address> parse(std::string_view host, std::uint16_t port);
    static Address from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;

    const sockaddr* sockaddr_ptr() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    socklen_t length() const noexcept { return len_; }
    int family() const noexcept { return storage_.ss_family; }
    std::uint16_t port() const noexcept;
    /// The host part without brackets or port ("127.0.0.1", "::1").
    std::string host() const;
    /// "127.0.0.1:8080" or "[::1]:8080".
    std::string to_string() const;

private:
    sockaddr_storage storage_{};
    socklen_t len_ = 0;
};

}  // namespace keel::net
