#pragma once
/// keel::http::TlsInfo: what a handler may know about the TLS session its request came over,
/// as `req.tls()` (null on plain TCP). The server's channels implement it
/// (keel::server::SecureChannel), so the message model knows the facts and nothing of how the
/// bytes are encrypted.

#include <string_view>

namespace keel::http {

class TlsInfo {
  public:
    virtual ~TlsInfo() = default;

    virtual bool handshake_done() const noexcept = 0;
    /// The negotiated protocol: "TLSv1.3" or "TLSv1.2".
    virtual std::string_view version() const noexcept = 0;
    /// The ALPN protocol the client and server agreed on ("http/1.1"), empty if none.
    virtual std::string_view alpn() const noexcept = 0;
    /// The server name the client asked for (SNI), empty if none.
    virtual std::string_view server_name() const noexcept = 0;
    /// The verified client certificate's subject ("CN=alice,O=Example"); empty without one.
    virtual std::string_view peer_subject() const noexcept = 0;
    /// True when the handshake resumed an earlier session (a ticket).
    virtual bool resumed() const noexcept = 0;
};

}  // namespace keel::http
