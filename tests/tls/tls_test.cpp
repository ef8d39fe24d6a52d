// TLS on keel's loops: real handshakes over real sockets with OpenSSL clients and curl, against
// certificates the test makes with the openssl command line.
#include "tls/tls_client.hpp"

#include "support/eventually.hpp"
#include "support/run_command.hpp"

#include <keel/testing/test_server.hpp>
#include <keel/tls/server_context.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

using keel::test::eventually;
using keel::test::TestPki;
using keel::test::TlsClient;
using keel::test::TlsClientOptions;
using keel::testing::TestServer;

namespace {

// Answers with what the handler sees of the TLS connection.
keel::http::Handler describe_tls() {
    return [](keel::http::Request& req) {
        const keel::http::TlsInfo* t = req.tls();
        if (!t) {
            return keel::http::Response::text("plain");
        }
        return keel::http::Response::text("version=" + std::string(t->version()) + " alpn=" + std::string(t->alpn()) +
                                          " sni=" + std::string(t->server_name()) + " subject=" +
                                          std::string(t->peer_subject()) + " resumed=" + (t->resumed() ? "1" : "0"));
    };
}

struct TlsServer {
    std::shared_ptr<keel::tls::ServerContext> tls;
    std::unique_ptr<TestServer> server;

    explicit TlsServer(keel::tls::Options o, keel::server::ServerOptions so = TestServer::default_options()) {
        auto t = keel::tls::ServerContext::create(std::move(o));
        if (!t) {
            throw std::runtime_error(std::string(t.error().message()));
        }
        tls = *t;
        so.tls = tls;
        server = std::make_unique<TestServer>(describe_tls(), so);
    }
    std::uint16_t port() const { return server->port(); }
};

std::string body_of(const std::optional<std::string>& response) {
    if (!response) {
        return "(no response)";
    }
    auto at = response->find("\r\n\r\n");
    return at == std::string::npos ? *response : response->substr(at + 4);
}

class Tls : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        std::signal(SIGPIPE, SIG_IGN);  // a server closing a connection must fail a write, not kill us
        pki_ = new TestPki();
        pki_->issue("a", "a.test");
        pki_->issue("b", "b.test");
        pki_->issue("alice", "alice", /*client=*/true);
    }
    static void TearDownTestSuite() {
        delete pki_;
        pki_ = nullptr;
    }
    static keel::tls::Options options_a() {
        return keel::tls::Options{.certificates = {{pki_->path("a.pem"), pki_->path("a.key")}}};
    }
    static TestPki* pki_;
};
TestPki* Tls::pki_ = nullptr;

}  // namespace

TEST_F(Tls, ServesHttp11OverTls13WithAlpnAndKeepAlive) {
    TlsServer s(options_a());
    TlsClient c(s.port(), {.sni = "a.test", .ca_file = pki_->ca()});
    ASSERT_TRUE(c.connected()) << c.error();
    EXPECT_EQ(c.version(), "TLSv1.3");
    EXPECT_EQ(c.alpn(), "http/1.1");
    for (int i = 0; i < 3; ++i) {  // one connection, several requests
        EXPECT_EQ(body_of(c.get("/x")), "version=TLSv1.3 alpn=http/1.1 sni=a.test subject= resumed=0");
    }
    EXPECT_EQ(s.tls->stats().handshakes, 1u);
}

TEST_F(Tls, Tls12OnlyWithForwardSecretAeadCiphers) {
    TlsServer s(options_a());
    TlsClient c12(s.port(), {.ca_file = pki_->ca(), .max_version = TLS1_2_VERSION});
    ASSERT_TRUE(c12.connected()) << c12.error();
    EXPECT_EQ(c12.version(), "TLSv1.2");
    EXPECT_NE(body_of(c12.get("/")).find("version=TLSv1.2"), std::string::npos);
    // TLS 1.1 and 1.0 are refused, and the refusals are counted.
    TlsClient c11(s.port(), {.min_version = TLS1_VERSION, .max_version = TLS1_1_VERSION});
    EXPECT_FALSE(c11.connected());
    EXPECT_TRUE(eventually([&] { return s.tls->stats().failed >= 1; }));
    // The OpenSSL command line offering only CBC or non-ECDHE suites gets nothing.
    std::string out = keel::test::run("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(s.port()) +
                                      " -tls1_2 -cipher AES128-SHA256:ECDHE-RSA-AES128-SHA 2>&1");
    EXPECT_EQ(out.find("Cipher is AES128"), std::string::npos) << out;
    EXPECT_NE(out.find("alert"), std::string::npos) << out;
    // Still serving.
    TlsClient again(s.port(), {.ca_file = pki_->ca()});
    EXPECT_TRUE(again.connected()) << again.error();
}

TEST_F(Tls, RefusesAClientWithNoProtocolInCommon) {
    TlsServer s(options_a());
    TlsClient c(s.port(), {.alpn = {"h2"}});
    EXPECT_FALSE(c.connected());             // no_application_protocol (RFC 7301)
    TlsClient none(s.port(), {.alpn = {}});  // a client that offers no ALPN at all is served
    ASSERT_TRUE(none.connected()) << none.error();
    EXPECT_NE(body_of(none.get("/")).find("alpn= "), std::string::npos);
}

TEST_F(Tls, PlainHttpOnTheTlsPortIsClosedAndCounted) {
    TlsServer s(options_a());
    keel::testing::RawClient raw(s.port());
    ASSERT_TRUE(raw.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_FALSE(raw.read_response());  // closed: nothing a plain client could read
    EXPECT_TRUE(eventually([&] { return s.tls->stats().failed == 1; }));
    TlsClient c(s.port(), {.ca_file = pki_->ca()});
    EXPECT_TRUE(c.connected()) << c.error();
}

TEST_F(Tls, AHandshakeNotFinishedInTimeIsCut) {
    auto so = TestServer::default_options();
    so.tls_handshake_timeout = std::chrono::milliseconds(300);
    TlsServer s(options_a(), so);
    keel::testing::RawClient silent(s.port());  // connects, never says hello
    EXPECT_TRUE(silent.closed_by_peer());
    EXPECT_TRUE(eventually([&] { return s.tls->stats().timed_out == 1; }));
}

TEST_F(Tls, SniPicksTheCertificateThatMatches) {
    keel::tls::Options o = options_a();
    o.certificates.push_back({pki_->path("b.pem"), pki_->path("b.key")});
    TlsServer s(o);
    TlsClient b(s.port(), {.sni = "b.test", .ca_file = pki_->ca()});  // verifies b.test's name
    ASSERT_TRUE(b.connected()) << b.error();
    EXPECT_EQ(b.peer_common_name(), "b.test");
    TlsClient a(s.port(), {.sni = "a.test", .ca_file = pki_->ca()});
    ASSERT_TRUE(a.connected()) << a.error();
    EXPECT_EQ(a.peer_common_name(), "a.test");
    TlsClient other(s.port(), {.sni = "unknown.test"});  // no match: the first is the default
    ASSERT_TRUE(other.connected()) << other.error();
    EXPECT_EQ(other.peer_common_name(), "a.test");
}

TEST_F(Tls, ResumesSessionsWithTicketsAcrossAReload) {
    TlsServer s(options_a());
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        SCOPED_TRACE(version);
        SSL_SESSION* session = nullptr;
        {
            TlsClient first(s.port(), {.ca_file = pki_->ca(), .max_version = version});
            ASSERT_TRUE(first.connected()) << first.error();
            ASSERT_TRUE(first.get("/"));  // TLS 1.3 sends its ticket after the handshake
            EXPECT_FALSE(first.resumed());
            session = first.session();
        }
        ASSERT_TRUE(s.tls->reload());  // the ticket keys outlive a certificate reload
        TlsClient second(s.port(), {.ca_file = pki_->ca(), .max_version = version, .session = session});
        ASSERT_TRUE(second.connected()) << second.error();
        EXPECT_TRUE(second.resumed());
        EXPECT_NE(body_of(second.get("/")).find("resumed=1"), std::string::npos);
        SSL_SESSION_free(session);
        // A resumed connection hands out a ticket in turn: a client reconnecting again and
        // again resumes every time (wrk does; without it every other handshake was full).
        session = second.session();
        TlsClient third(s.port(), {.ca_file = pki_->ca(), .max_version = version, .session = session});
        ASSERT_TRUE(third.connected()) << third.error();
        EXPECT_TRUE(third.resumed());
        SSL_SESSION_free(session);
    }
    // The server counts a handshake when it reads the client's Finished, which may come after
    // the client already sees the connection resumed: wait for it.
    EXPECT_TRUE(eventually([&] { return s.tls->stats().resumed == 4u; })) << s.tls->stats().resumed;
}

TEST_F(Tls, ClientCertificatesAreRequiredAndTheirSubjectReachesTheHandler) {
    keel::tls::Options o = options_a();
    o.client_ca = pki_->ca();
    TlsServer s(o);
    TlsClient anonymous(s.port(), {.ca_file = pki_->ca()});
    // TLS 1.3: the refusal may come after the client's handshake completes; no answer either way.
    EXPECT_TRUE(!anonymous.connected() || !anonymous.get("/"));
    TlsClient alice(s.port(),
                    {.ca_file = pki_->ca(), .cert_file = pki_->path("alice.pem"), .key_file = pki_->path("alice.key")});
    ASSERT_TRUE(alice.connected()) << alice.error();
    EXPECT_NE(body_of(alice.get("/")).find("subject=O=keel,CN=alice"), std::string::npos);
}

TEST_F(Tls, ReloadServesTheNewCertificateAndKeepsLiveConnections) {
    // The server's files are copies the test replaces, as a certificate rotation would.
    std::string cert = pki_->path("live.pem"), key = pki_->path("live.key");
    keel::test::run("cp " + pki_->path("a.pem") + " " + cert + " && cp " + pki_->path("a.key") + " " + key);
    TlsServer s(keel::tls::Options{.certificates = {{cert, key}}});
    TlsClient live(s.port(), {.ca_file = pki_->ca()});
    ASSERT_TRUE(live.connected()) << live.error();
    EXPECT_EQ(live.peer_common_name(), "a.test");

    keel::test::run("cp " + pki_->path("b.pem") + " " + cert + " && cp " + pki_->path("b.key") + " " + key);
    ASSERT_TRUE(s.tls->reload());
    TlsClient fresh(s.port(), {.ca_file = pki_->ca()});
    ASSERT_TRUE(fresh.connected()) << fresh.error();
    EXPECT_EQ(fresh.peer_common_name(), "b.test");
    EXPECT_NE(body_of(live.get("/")).find("version="), std::string::npos);  // the old connection goes on

    // A broken file keeps the current certificate and says why.
    std::ofstream(key) << "not a key";
    auto bad = s.tls->reload();
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find(key), std::string::npos) << bad.error().message();
    TlsClient after(s.port(), {.ca_file = pki_->ca()});
    ASSERT_TRUE(after.connected()) << after.error();
    EXPECT_EQ(after.peer_common_name(), "b.test");
    EXPECT_EQ(s.tls->stats().reloads, 1u);
}

TEST_F(Tls, CreateFailsWithTheFileAndTheReason) {
    auto missing = keel::tls::ServerContext::create({.certificates = {{"/nonexistent.pem", pki_->path("a.key")}}});
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find("/nonexistent.pem"), std::string::npos);
    auto mismatched = keel::tls::ServerContext::create({.certificates = {{pki_->path("a.pem"), pki_->path("b.key")}}});
    ASSERT_FALSE(mismatched);
    EXPECT_NE(mismatched.error().message().find("mismatch"), std::string::npos) << mismatched.error().message();
    EXPECT_FALSE(keel::tls::ServerContext::create({}));
}

TEST_F(Tls, CurlGetsHttp11WhenItOffersH2) {
    TlsServer s(options_a());
    std::string out =
        keel::test::run("curl -s --http2 --cacert " + pki_->ca() + " --resolve a.test:" + std::to_string(s.port()) +
                        ":127.0.0.1 -w ' %{http_version}' https://a.test:" + std::to_string(s.port()) + "/x");
    EXPECT_EQ(out, "version=TLSv1.3 alpn=http/1.1 sni=a.test subject= resumed=0 1.1");
}

TEST_F(Tls, LargeResponsesAndBodiesCrossTheRecordLayer) {
    auto ctx = keel::tls::ServerContext::create(options_a());
    ASSERT_TRUE(ctx);
    auto so = TestServer::default_options();
    so.tls = *ctx;
    so.limits.max_body_bytes = 4 << 20;
    TestServer s(
        [](keel::http::Request& req) {
            return keel::http::Response::text(std::string(req.body()) + std::string(3 << 20, 'z'));
        },
        so);
    std::string file = ::testing::TempDir() + "/keel_tls_body";
    std::ofstream(file) << std::string(2 << 20, 'y');
    std::string out = keel::test::run("curl -s --cacert " + pki_->ca() +
                                      " --resolve a.test:" + std::to_string(s.port()) + ":127.0.0.1 --data-binary @" +
                                      file + " https://a.test:" + std::to_string(s.port()) + "/ | wc -c");
    EXPECT_EQ(std::stoul(out), (2u << 20) + (3u << 20));
}
