#pragma once
// A blocking TLS client for the tests (OpenSSL, real sockets): SNI, ALPN, version limits, a
// CA to verify against, a client certificate, and session resumption, each under the test's
// control. Also makes certificates with the openssl command line in a temp dir.
#include "support/run_command.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace keel::test {

struct TlsClientOptions {
    std::string sni = {};
    std::vector<std::string> alpn = {"http/1.1"};
    std::string ca_file = {};  ///< verify the server against it (empty: no verification)
    std::string cert_file = {};
    std::string key_file = {};
    int min_version = 0;             ///< e.g. TLS1_VERSION to try an old protocol
    int max_version = 0;             ///< e.g. TLS1_2_VERSION; 0 = the highest
    SSL_SESSION* session = nullptr;  ///< resume this session
};

class TlsClient {
  public:
    TlsClient(std::uint16_t port, const TlsClientOptions& o) {
        ctx_ = SSL_CTX_new(TLS_client_method());
        if (o.min_version) {
            SSL_CTX_set_security_level(ctx_, 0);  // let the old protocol be offered at all
            SSL_CTX_set_min_proto_version(ctx_, o.min_version);
        }
        if (o.max_version) {
            SSL_CTX_set_max_proto_version(ctx_, o.max_version);
        }
        if (!o.ca_file.empty()) {
            SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr);
            SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        }
        if (!o.cert_file.empty()) {
            SSL_CTX_use_certificate_file(ctx_, o.cert_file.c_str(), SSL_FILETYPE_PEM);
            SSL_CTX_use_PrivateKey_file(ctx_, o.key_file.c_str(), SSL_FILETYPE_PEM);
        }
        SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            return;
        }
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        if (!o.sni.empty()) {
            SSL_set_tlsext_host_name(ssl_, o.sni.c_str());
            SSL_set1_host(ssl_, o.sni.c_str());
        }
        std::string wire;
        for (const auto& p : o.alpn) {
            wire += static_cast<char>(p.size());
            wire += p;
        }
        if (!wire.empty()) {
            SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size()));
        }
        if (o.session) {
            SSL_set_session(ssl_, o.session);
        }
        connected_ = SSL_connect(ssl_) == 1;
        if (!connected_) {
            char buf[256];
            ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
            error_ = buf;
        }
    }
    ~TlsClient() {
        if (ssl_) {
            if (connected_) {
                SSL_shutdown(ssl_);  // without close_notify OpenSSL marks the session not resumable
            }
            SSL_free(ssl_);
        }
        if (fd_ >= 0) {
            ::close(fd_);
        }
        SSL_CTX_free(ctx_);
    }
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    bool connected() const { return connected_; }
    const std::string& error() const { return error_; }
    std::string alpn() const {
        const unsigned char* p = nullptr;
        unsigned n = 0;
        SSL_get0_alpn_selected(ssl_, &p, &n);
        return std::string(reinterpret_cast<const char*>(p), n);
    }
    std::string version() const { return SSL_get_version(ssl_); }
    bool resumed() const { return SSL_session_reused(ssl_) == 1; }
    /// The session to resume later (owned by the caller: SSL_SESSION_free).
    SSL_SESSION* session() const { return SSL_get1_session(ssl_); }
    std::string peer_common_name() const {
        X509* cert = SSL_get0_peer_certificate(ssl_);
        char cn[256] = {};
        if (cert) {
            X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        }
        return cn;
    }

    /// Sends a GET and returns the whole response (head and Content-Length body); nullopt when
    /// the connection fails.
    std::optional<std::string> get(const std::string& path) {
        std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
        if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) {
            return std::nullopt;
        }
        std::string in;
        char buf[4096];
        for (;;) {
            auto end = in.find("\r\n\r\n");
            if (end != std::string::npos) {
                auto cl = in.find("Content-Length: ");
                std::size_t len = cl == std::string::npos ? 0 : std::strtoul(in.c_str() + cl + 16, nullptr, 10);
                if (in.size() >= end + 4 + len) {
                    return in;
                }
            }
            int n = SSL_read(ssl_, buf, sizeof buf);
            if (n <= 0) {
                return std::nullopt;
            }
            in.append(buf, static_cast<std::size_t>(n));
        }
    }

    /// The raw socket's next read: 0 when the server closed it.
    ssize_t raw_read() {
        char c;
        return ::recv(fd_, &c, 1, 0);
    }

  private:
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    int fd_ = -1;
    bool connected_ = false;
    std::string error_;
};

/// Certificates made with the openssl command line: a CA, and leaf certificates it signs.
class TestPki {
  public:
    TestPki() {
        char tmpl[] = "/tmp/keel_tls_XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=keel-test-ca "
           "-keyout " +
           path("ca.key") + " -out " + path("ca.pem"));
    }
    ~TestPki() { run("rm -rf " + dir_); }

    std::string path(const std::string& name) const { return dir_ + "/" + name; }
    std::string ca() const { return path("ca.pem"); }

    /// `name`.pem and `name`.key for `cn` (also its DNS name), signed by the CA.
    void issue(const std::string& name, const std::string& cn, bool client = false) const {
        std::string ext = path(name + ".ext");
        sh("printf 'subjectAltName=DNS:" + cn + "\\nextendedKeyUsage=" + (client ? "clientAuth" : "serverAuth") +
           "\\n' > " + ext);
        sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + cn + "/O=keel -keyout " +
           path(name + ".key") + " -out " + path(name + ".csr"));
        sh("openssl x509 -req -in " + path(name + ".csr") + " -CA " + ca() + " -CAkey " + path("ca.key") +
           " -CAcreateserial -days 2 -extfile " + ext + " -out " + path(name + ".pem"));
    }

  private:
    static void sh(const std::string& cmd) {
        if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
            throw std::runtime_error("failed: " + cmd);
        }
    }
    std::string dir_;
};

}  // namespace keel::test
