#pragma once
/// keel::tls::ServerContext: TLS for keel's server, on OpenSSL 3. Give it to ServerOptions::tls
/// and every accepted connection is a TLS connection on the same loops, with the same handlers:
///
///     auto tls = keel::tls::ServerContext::create({.certificates = {{"cert.pem", "key.pem"}}});
///     if (!tls) return fail(tls.error().message());   // the file and OpenSSL's reason
///     keel::server::ServerOptions options;
///     options.tls = *tls;
///
/// What it negotiates: TLS 1.2 and 1.3 only; for 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305
/// (forward secrecy and AEAD), the server's order preferred; no renegotiation, no compression.
/// ALPN selects from `alpn` (a client offering none of them is refused, RFC 7301). With several
/// certificates the client's SNI picks the first whose names match (the first is the default).
/// Session tickets are encrypted with keys this context owns, rotated every
/// `ticket_key_lifetime` (a ticket stays valid for one more lifetime, then a full handshake), and
/// kept across reload(), so resumption survives a certificate rotation.
///
/// reload() reads every file again (SIGHUP in keel::App): connections already open keep the
/// certificate they started with; new ones get the new one; a file that fails to load leaves the
/// old certificates in place and says why. With `client_ca` set, clients must present a
/// certificate signed by it; its subject is `req.tls()->peer_subject()`.

#include <keel/core/collector.hpp>
#include <keel/core/loop.hpp>
#include <keel/core/result.hpp>
#include <keel/server/secure_channel.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace keel::tls {

struct Certificate {
    std::string cert_file;  ///< PEM: the certificate, then its chain
    std::string key_file;   ///< PEM: its private key
};

struct Options {
    std::vector<Certificate> certificates;         ///< at least one; the first is the default
    std::string client_ca = {};                    ///< PEM CA bundle: require client certificates
    std::vector<std::string> alpn = {"http/1.1"};  ///< in the server's order of preference
    Duration ticket_key_lifetime = std::chrono::hours(1);
};

struct Stats {
    std::uint64_t handshakes = 0;  ///< completed (resumed ones included)
    std::uint64_t resumed = 0;
    std::uint64_t failed = 0;     ///< protocol, certificate or ALPN errors, or the peer left
    std::uint64_t timed_out = 0;  ///< ServerOptions::tls_handshake_timeout passed
    std::uint64_t reloads = 0;
};

class ServerContext final : public server::SecureChannelFactory, public std::enable_shared_from_this<ServerContext> {
  public:
    /// Loads every certificate and key (and the client CA); fails with the file and the reason.
    static Result<std::shared_ptr<ServerContext>> create(Options options);
    ~ServerContext() override;

    /// Loads the same files again (any thread). On failure the current certificates stay.
    Result<void> reload();

    std::unique_ptr<server::SecureChannel> accept(int fd) override;
    void handshake_failed(bool timed_out) noexcept override;

    Stats stats() const noexcept;
    /// keel_tls_handshakes_total{result="ok|resumed|failed|timeout"} for a metrics registry.
    metrics::Collector collector();
    const Options& options() const noexcept { return options_; }

    struct Contexts;  // the loaded SSL_CTXs (private)
    struct TicketKeys;
    struct Counters {
        std::atomic<std::uint64_t> handshakes{0}, resumed{0}, failed{0}, timed_out{0}, reloads{0};
    };

  private:
    friend struct ServerContextAccess;  // the OpenSSL callbacks
    explicit ServerContext(Options options);

    Options options_;
    std::unique_ptr<TicketKeys> tickets_;
    mutable std::mutex mu_;  // guards current_ (swapped by reload)
    std::shared_ptr<const Contexts> current_;
    Counters counters_;
};

}  // namespace keel::tls
