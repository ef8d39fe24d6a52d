#pragma once
/// keel::net::Address: an IPv4 or IPv6 socket address, small and copyable, printable as
/// "1.2.3.4:80" / "[::1]:80". Used for listeners and for a request's remote peer.

#include <keel/core/result.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::net {

/// A host and a port as written in configuration ("db.example:5432", "[::1]:6379").
struct HostPort {
    std::string host;  ///< without brackets; not resolved (a name or a numeric address)
    std::uint16_t port = 0;
};

/// Splits "host:port" or "[ipv6]:port". With `default_port`, the port may be left out
/// ("cache.internal", "[::1]"; an IPv6 address then needs its brackets only with a port).
/// Errc::invalid_argument with a reason ("port must be a number from 0 to 65535", "missing
/// port", "unclosed '['") otherwise. The host may be empty (":9090"); callers decide.
Result<HostPort> parse_host_port(std::string_view text, std::optional<std::uint16_t> default_port = std::nullopt);

class Address {
  public:
    Address() noexcept { storage_.any.sa_family = AF_UNSPEC; }

    /// Parses a numeric host ("127.0.0.1", "::1", "[::1]", "0.0.0.0") and a port. No DNS.
    static Result<Address> parse(std::string_view host, std::uint16_t port);
    static Address from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;

    const sockaddr* sockaddr_ptr() const noexcept { return &storage_.any; }
    socklen_t length() const noexcept { return len_; }
    int family() const noexcept { return storage_.any.sa_family; }
    std::uint16_t port() const noexcept;
    /// The host part without brackets or port ("127.0.0.1", "::1").
    std::string host() const;
    /// "127.0.0.1:8080" or "[::1]:8080".
    std::string to_string() const;

  private:
    // IPv4 or IPv6 only: 28 bytes rather than sockaddr_storage's 128 (every connection and
    // every request holds one).
    union Storage {
        sockaddr_in6 v6;  // first and largest: Storage{} zeroes all of it
        sockaddr_in v4;
        sockaddr any;
    };
    Storage storage_{};
    socklen_t len_ = 0;
};

}  // namespace keel::net
