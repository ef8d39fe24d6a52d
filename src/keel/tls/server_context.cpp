#include <keel/tls/server_context.hpp>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace keel::tls {
namespace {

// TLS 1.2: ECDHE key exchange (forward secrecy) with an AEAD cipher only. TLS 1.3's suites are
// all AEAD; OpenSSL's default list for it is kept.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";

// OpenSSL's reason for the last failure (and clears its thread's error queue).
std::string openssl_reason() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) {
            out += "; ";
        }
        out += buf;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

Error fail(std::string what) {
    return Error::with_detail(Errc::invalid_argument, "tls: " + std::move(what) + ": " + openssl_reason());
}

// PEM files are read here, not by OpenSSL's file functions: a reload runs on the signal thread,
// and an open(2) or read(2) that blocks (a FIFO at the path, a device) would stop it from ever
// handling SIGTERM. Only a regular file of at most 1 MiB is read, opened O_NONBLOCK.
constexpr std::size_t kMaxPemBytes = 1024 * 1024;

Result<std::string> read_pem_file(const std::string& path, std::string_view what) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return Error::with_detail(Errc::invalid_argument,
                                  "tls: " + std::string(what) + " " + path + ": " + std::strerror(errno));
    }
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return Error::with_detail(Errc::invalid_argument,
                                  "tls: " + std::string(what) + " " + path + ": not a regular file");
    }
    if (static_cast<std::uint64_t>(st.st_size) > kMaxPemBytes) {
        return Error::with_detail(Errc::invalid_argument,
                                  "tls: " + std::string(what) + " " + path + ": larger than 1 MiB");
    }
    std::string pem(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < pem.size()) {
        ssize_t n = ::read(fd, pem.data() + got, pem.size() - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return Error::with_detail(Errc::invalid_argument,
                                      "tls: " + std::string(what) + " " + path + ": read failed");
        }
        got += static_cast<std::size_t>(n);
    }
    return pem;
}

struct BioDeleter {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr memory_bio(const std::string& bytes) {
    return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// The leaf certificate and the chain after it, like SSL_CTX_use_certificate_chain_file.
bool use_certificate_chain(SSL_CTX* ctx, const std::string& pem) {
    BioPtr bio = memory_bio(pem);
    X509* leaf = bio ? PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!leaf) {
        return false;
    }
    bool ok = SSL_CTX_use_certificate(ctx, leaf) == 1 && SSL_CTX_clear_chain_certs(ctx) == 1;
    X509_free(leaf);
    while (ok) {
        X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
        if (!ca) {
            // The end of the file is the expected way out; anything else is a bad chain.
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
            } else {
                ok = false;
            }
            break;
        }
        ok = SSL_CTX_add0_chain_cert(ctx, ca) == 1;  // takes ownership on success
        if (!ok) {
            X509_free(ca);
        }
    }
    return ok;
}

bool use_private_key(SSL_CTX* ctx, const std::string& pem) {
    BioPtr bio = memory_bio(pem);
    EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!key) {
        return false;
    }
    bool ok = SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    return ok;
}

// Trusts every certificate of `pem` for client certificates and offers their names.
bool use_client_ca(SSL_CTX* ctx, const std::string& pem) {
    BioPtr bio = memory_bio(pem);
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    if (!bio || !names) {
        sk_X509_NAME_free(names);
        return false;
    }
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int count = 0;
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
        bool ok = X509_STORE_add_cert(store, ca) == 1;
        X509_NAME* name = ok ? X509_NAME_dup(X509_get_subject_name(ca)) : nullptr;
        X509_free(ca);
        if (!name || sk_X509_NAME_push(names, name) <= 0) {
            X509_NAME_free(name);
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return false;
        }
        ++count;
    }
    ERR_clear_error();  // the end of the file
    if (count == 0) {
        sk_X509_NAME_free(names);
        return false;
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    return true;
}

struct CtxDeleter {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

}  // namespace

// Ticket keys: the newest encrypts, every key younger than two lifetimes decrypts (a ticket
// decrypted with an older key is renewed). Shared by every SSL_CTX of the context, so a reload
// does not invalidate the tickets clients hold.
struct ServerContext::TicketKeys {
    struct Key {
        unsigned char name[16];
        unsigned char aes[32];
        unsigned char hmac[32];
        TimePoint created;
    };
    std::mutex mu;
    std::vector<Key> keys;  // newest first
    Duration lifetime;

    explicit TicketKeys(Duration life) : lifetime(life) {}

    // The encrypting key, made or rotated as needed (under mu).
    const Key& current(TimePoint now) {
        if (keys.empty() || now - keys.front().created >= lifetime) {
            Key k{};
            RAND_bytes(k.name, sizeof k.name);
            RAND_bytes(k.aes, sizeof k.aes);
            RAND_bytes(k.hmac, sizeof k.hmac);
            k.created = now;
            keys.insert(keys.begin(), k);
        }
        while (keys.size() > 1 && now - keys.back().created >= 2 * lifetime) {
            keys.pop_back();
        }
        return keys.front();
    }
};

// The loaded certificates: one SSL_CTX each (SNI switches between them).
struct ServerContext::Contexts {
    std::vector<CtxPtr> ctx;
    std::vector<X509*> leaf;  // owned by ctx
};

namespace {

int set_mac_key(EVP_MAC_CTX* hctx, unsigned char* key, std::size_t n) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, n),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params);
}

ServerContext* owner_of(SSL* ssl) {
    return static_cast<ServerContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

}  // namespace

// The OpenSSL callbacks' way to the context's private parts.
struct ServerContextAccess {
    static ServerContext::TicketKeys& tickets(ServerContext& c) { return *c.tickets_; }
    static std::shared_ptr<const ServerContext::Contexts> current(ServerContext& c) {
        std::lock_guard lock(c.mu_);
        return c.current_;
    }
};

namespace {

// Called by OpenSSL on the loop thread for every ticket issued (enc = 1) or presented (enc = 0).
int ticket_key(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
               EVP_MAC_CTX* hctx, int enc) {
    ServerContext* owner = owner_of(ssl);
    if (!owner) {
        return -1;
    }
    auto& tk = ServerContextAccess::tickets(*owner);
    std::lock_guard lock(tk.mu);
    TimePoint now = Clock::now();
    if (enc == 1) {
        const auto& k = tk.current(now);
        if (RAND_bytes(iv, 16) != 1) {
            return -1;
        }
        std::memcpy(name, k.name, sizeof k.name);
        auto key = k;  // OSSL_PARAM wants non-const buffers
        if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1 ||
            set_mac_key(hctx, key.hmac, sizeof key.hmac) != 1) {
            return -1;
        }
        return 1;
    }
    tk.current(now);  // expire old keys
    for (std::size_t i = 0; i < tk.keys.size(); ++i) {
        auto key = tk.keys[i];
        if (std::memcmp(name, key.name, sizeof key.name) != 0) {
            continue;
        }
        if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1 ||
            set_mac_key(hctx, key.hmac, sizeof key.hmac) != 1) {
            return -1;
        }
        // 2: valid, issue a new ticket. Always in TLS 1.3, where a client uses a ticket once
        // (RFC 8446 C.4) and OpenSSL sends none after a resumption unless asked: without it
        // every other connection of a reconnecting client would be a full handshake.
        return i == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
    }
    return 0;  // unknown key: a full handshake
}

// ALPN: the first of the server's protocols the client offers. None in common is a fatal
// no_application_protocol alert (RFC 7301 §3.2).
int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void*) {
    ServerContext* owner = owner_of(ssl);
    for (const std::string& mine : owner->options().alpn) {
        for (unsigned i = 0; i < inlen;) {
            unsigned len = in[i];
            if (i + 1 + len > inlen) {
                break;
            }
            if (len == mine.size() && std::memcmp(in + i + 1, mine.data(), len) == 0) {
                *out = in + i + 1;
                *outlen = static_cast<unsigned char>(len);
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + len;
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// SNI: switch to the first certificate whose names match; otherwise keep the default.
int select_certificate(SSL* ssl, int*, void*) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    ServerContext* owner = owner_of(ssl);
    if (!name || !owner) {
        return SSL_TLSEXT_ERR_OK;
    }
    auto contexts = ServerContextAccess::current(*owner);
    for (std::size_t i = 1; i < contexts->ctx.size(); ++i) {
        if (X509_check_host(contexts->leaf[i], name, 0, 0, nullptr) == 1) {
            SSL_set_SSL_CTX(ssl, contexts->ctx[i].get());
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

Result<std::shared_ptr<ServerContext::Contexts>> load(const Options& o, ServerContext* owner) {
    auto out = std::make_shared<ServerContext::Contexts>();
    std::string client_ca;
    if (!o.client_ca.empty()) {
        KEEL_TRY(pem, read_pem_file(o.client_ca, "client CA"));
        client_ca = std::move(pem);
    }
    for (const Certificate& c : o.certificates) {
        KEEL_TRY(cert_pem, read_pem_file(c.cert_file, "certificate"));
        KEEL_TRY(key_pem, read_pem_file(c.key_file, "private key"));
        CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
        if (!ctx) {
            return fail("SSL_CTX_new");
        }
        SSL_CTX* x = ctx.get();
        SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
        SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
        // The output buffer may move between a partial write and its retry (it is a std::string).
        SSL_CTX_set_mode(
            x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
        if (SSL_CTX_set_cipher_list(x, kTls12Ciphers) != 1 || SSL_CTX_set1_groups_list(x, kGroups) != 1) {
            return fail("cipher configuration");
        }
        if (!use_certificate_chain(x, cert_pem)) {
            return fail("certificate " + c.cert_file);
        }
        if (!use_private_key(x, key_pem)) {
            return fail("private key " + c.key_file);
        }
        if (SSL_CTX_check_private_key(x) != 1) {
            return fail("private key " + c.key_file + " does not match certificate " + c.cert_file);
        }
        if (!o.client_ca.empty()) {
            if (!use_client_ca(x, client_ca)) {
                return fail("client CA " + o.client_ca);
            }
            SSL_CTX_set_verify(x, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        }
        SSL_CTX_set_app_data(x, owner);
        SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_OFF);  // tickets only: nothing per client kept
        SSL_CTX_set_tlsext_ticket_key_evp_cb(x, ticket_key);
        SSL_CTX_set_alpn_select_cb(x, select_alpn, nullptr);
        SSL_CTX_set_tlsext_servername_callback(x, select_certificate);
        SSL_CTX_set_read_ahead(x, 1);  // one recv per burst of records, not two per record
        out->leaf.push_back(SSL_CTX_get0_certificate(x));
        out->ctx.push_back(std::move(ctx));
    }
    return out;
}

// One TLS connection, on its loop thread.
class Channel final : public server::SecureChannel {
  public:
    Channel(SSL* ssl, std::shared_ptr<const ServerContext::Contexts> keep, ServerContext::Counters& counters)
        : ssl_(ssl), keep_(std::move(keep)), counters_(counters) {}
    ~Channel() override { SSL_free(ssl_); }

    Io read(char* into, std::size_t n) override {
        ERR_clear_error();
        std::size_t got = 0;
        int r = SSL_read_ex(ssl_, into, n, &got);
        note_handshake();
        return r == 1 ? Io{Status::ok, got} : failure(r);
    }

    Io write(const char* from, std::size_t n) override {
        ERR_clear_error();
        std::size_t put = 0;
        int r = SSL_write_ex(ssl_, from, n, &put);
        note_handshake();
        return r == 1 ? Io{Status::ok, put} : failure(r);
    }

    void close_notify() override {
        if (done_) {
            ERR_clear_error();
            (void)SSL_shutdown(ssl_);  // one attempt: sends close_notify if the socket takes it
        }
    }

    bool handshake_done() const noexcept override { return done_; }
    std::string_view version() const noexcept override { return SSL_get_version(ssl_); }
    std::string_view alpn() const noexcept override {
        const unsigned char* p = nullptr;
        unsigned len = 0;
        SSL_get0_alpn_selected(ssl_, &p, &len);
        return {reinterpret_cast<const char*>(p), len};
    }
    std::string_view server_name() const noexcept override {
        const char* n = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
        return n ? std::string_view(n) : std::string_view();
    }
    std::string_view peer_subject() const noexcept override { return subject_; }
    bool resumed() const noexcept override { return SSL_session_reused(ssl_) == 1; }

  private:
    void note_handshake() {
        if (done_ || (!SSL_is_init_finished(ssl_) && !client_finished())) {
            return;
        }
        done_ = true;
        counters_.handshakes.fetch_add(1, std::memory_order_relaxed);
        if (SSL_session_reused(ssl_) == 1) {
            counters_.resumed.fetch_add(1, std::memory_order_relaxed);
        }
        if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
            if (BIO* bio = BIO_new(BIO_s_mem())) {
                X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
                char* data = nullptr;
                long len = BIO_get_mem_data(bio, &data);
                subject_.assign(data, static_cast<std::size_t>(len));
                BIO_free(bio);
            }
        }
    }

    // TLS 1.3: the client's Finished is the handshake's last message; once it is verified the
    // server writes its session tickets and its state machine reaches TLS_ST_OK, while
    // SSL_is_init_finished() stays false until a later SSL_read — which fails if the client
    // has already gone. The handshake completed all the same: not a failure.
    bool client_finished() const noexcept {
        OSSL_HANDSHAKE_STATE st = SSL_get_state(ssl_);
        return st == TLS_ST_OK || (SSL_version(ssl_) == TLS1_3_VERSION && st == TLS_ST_SW_SESSION_TICKET);
    }

    Io failure(int r) {
        note_handshake();
        switch (SSL_get_error(ssl_, r)) {
            case SSL_ERROR_WANT_READ:
                return {Status::want_read};
            case SSL_ERROR_WANT_WRITE:
                return {Status::want_write};
            case SSL_ERROR_ZERO_RETURN:
                return {Status::eof};
            case SSL_ERROR_SYSCALL:
                // EOF without close_notify (or a reset): the peer is gone either way.
                if (errno == EAGAIN) {
                    return {Status::want_read};
                }
                break;
            default:
                break;
        }
        ERR_clear_error();
        return {done_ ? Status::eof : Status::error};  // a failed handshake is an error
    }

    SSL* ssl_;
    std::shared_ptr<const ServerContext::Contexts> keep_;  // the SSL_CTXs outlive this SSL
    ServerContext::Counters& counters_;
    std::string subject_;
    bool done_ = false;
};

}  // namespace

ServerContext::ServerContext(Options options)
    : options_(std::move(options)), tickets_(std::make_unique<TicketKeys>(options_.ticket_key_lifetime)) {}

ServerContext::~ServerContext() = default;

Result<std::shared_ptr<ServerContext>> ServerContext::create(Options options) {
    if (options.certificates.empty()) {
        return Error(Errc::invalid_argument, "tls: no certificate given");
    }
    if (options.alpn.empty()) {
        return Error(Errc::invalid_argument, "tls: no ALPN protocol given");
    }
    std::shared_ptr<ServerContext> c(new ServerContext(std::move(options)));
    auto loaded = load(c->options_, c.get());
    if (!loaded) {
        return loaded.error();
    }
    c->current_ = std::move(*loaded);
    return c;
}

Result<void> ServerContext::reload() {
    auto loaded = load(options_, this);
    if (!loaded) {
        return loaded.error();
    }
    {
        std::lock_guard lock(mu_);
        current_ = std::move(*loaded);
    }
    counters_.reloads.fetch_add(1, std::memory_order_relaxed);
    return {};
}

std::unique_ptr<server::SecureChannel> ServerContext::accept(int fd) {
    std::shared_ptr<const Contexts> contexts;
    {
        std::lock_guard lock(mu_);
        contexts = current_;
    }
    SSL* ssl = SSL_new(contexts->ctx.front().get());
    if (!ssl) {
        ERR_clear_error();
        return nullptr;
    }
    if (SSL_set_fd(ssl, fd) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        return nullptr;
    }
    SSL_set_accept_state(ssl);
    return std::make_unique<Channel>(ssl, std::move(contexts), counters_);
}

void ServerContext::handshake_failed(bool timed_out) noexcept {
    (timed_out ? counters_.timed_out : counters_.failed).fetch_add(1, std::memory_order_relaxed);
}

Stats ServerContext::stats() const noexcept {
    return Stats{
        .handshakes = counters_.handshakes.load(std::memory_order_relaxed),
        .resumed = counters_.resumed.load(std::memory_order_relaxed),
        .failed = counters_.failed.load(std::memory_order_relaxed),
        .timed_out = counters_.timed_out.load(std::memory_order_relaxed),
        .reloads = counters_.reloads.load(std::memory_order_relaxed),
    };
}

metrics::Collector ServerContext::collector() {
    std::weak_ptr<ServerContext> weak = weak_from_this();
    return [weak](std::vector<metrics::SampledFamily>& out) {
        auto self = weak.lock();
        if (!self) {
            return;
        }
        Stats s = self->stats();
        metrics::SampledFamily f{.name = "keel_tls_handshakes_total",
                                 .help = "TLS handshakes by result (ok includes resumed)",
                                 .type = "counter"};
        auto add = [&](const char* result, std::uint64_t v) {
            f.samples.push_back({.labels = {{"result", result}}, .value = static_cast<double>(v)});
        };
        add("ok", s.handshakes);
        add("resumed", s.resumed);
        add("failed", s.failed);
        add("timeout", s.timed_out);
        out.push_back(std::move(f));
    };
}

}  // namespace keel::tls
