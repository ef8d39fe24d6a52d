#pragma once
/// keel::server::SecureChannel: what the server talks through on a TLS connection. The server
/// knows only this interface; keel::tls implements it on OpenSSL (so a server without TLS links
/// no libssl). Set ServerOptions::tls to a factory (keel::tls::ServerContext) and every accepted
/// connection is wrapped; a handler sees the session's facts as `req.tls()` (an http::TlsInfo,
/// null on plain TCP).
///
/// All calls happen on the connection's loop thread, on a non-blocking socket: read and write
/// drive the handshake as needed and say which readiness they wait for.

#include <keel/http/tls_info.hpp>

#include <cstddef>
#include <memory>

namespace keel::server {

class SecureChannel : public http::TlsInfo {
  public:
    enum class Status : unsigned char {
        ok,          ///< `bytes` were read or written (> 0)
        want_read,   ///< wait until the socket is readable, then call again
        want_write,  ///< wait until the socket is writable, then call again
        eof,         ///< the peer closed (close_notify or TCP FIN)
        error,       ///< a protocol or certificate error: close the connection
    };
    struct Io {
        Status status;
        std::size_t bytes = 0;
    };

    ~SecureChannel() override = default;

    /// Decrypted bytes into `into` (at most n).
    virtual Io read(char* into, std::size_t n) = 0;
    /// Encrypts and sends up to n bytes of `from`; after want_*, call again with the same bytes.
    virtual Io write(const char* from, std::size_t n) = 0;
    /// Sends close_notify if it can without blocking (before the server's half-close).
    virtual void close_notify() = 0;
};

class SecureChannelFactory {
  public:
    virtual ~SecureChannelFactory() = default;
    /// A channel for a freshly accepted socket (the server side of a handshake); null when one
    /// cannot be made (out of memory), and the connection is closed.
    virtual std::unique_ptr<SecureChannel> accept(int fd) = 0;
    /// A handshake that failed or timed out (for the factory's statistics).
    virtual void handshake_failed(bool timed_out) noexcept = 0;
};

}  // namespace keel::server
