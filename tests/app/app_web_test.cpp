// The web toolkit through real sockets: hello's /static/ (sendfile over plain TCP, pieces over
// TLS and HTTP/2, ranges, 304s), POST /form (curl -F, files spilled to disk) and /visits (a
// signed cookie in curl's cookie jar). hello as a real process, curl as the client.
#include "tls/tls_client.hpp"

#include <support/process.hpp>
#include <support/read_file.hpp>
#include <support/run_command.hpp>

#include <gtest/gtest.h>

#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using keel::test::Process;
using keel::test::run;

namespace {

/// A temp directory with a 1 MiB file, a 1 KiB one, and an index.
class WebRoot {
  public:
    WebRoot() {
        dir_ = fs::temp_directory_path() / ("keel-web-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "www");
        big_.resize(1024 * 1024);
        for (std::size_t i = 0; i < big_.size(); ++i) {
            big_[i] = static_cast<char>(i * 2654435761u >> 13);
        }
        std::ofstream(dir_ / "www" / "big.bin", std::ios::binary) << big_;
        std::ofstream(dir_ / "www" / "small.txt", std::ios::binary) << std::string(1024, 's');
        std::ofstream(dir_ / "www" / "index.html") << "<h1>index</h1>";
    }
    ~WebRoot() { fs::remove_all(dir_); }
    std::string www() const { return (dir_ / "www").string(); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    const std::string& big() const { return big_; }

  private:
    fs::path dir_;
    std::string big_;
};

std::string url(int port, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port) + path;
}

/// Compares file contents without printing megabytes of binary on failure.
::testing::AssertionResult same_bytes(const std::string& got, const std::string& want) {
    if (got == want) {
        return ::testing::AssertionSuccess();
    }
    std::size_t at = 0;
    while (at < got.size() && at < want.size() && got[at] == want[at]) {
        ++at;
    }
    return ::testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size()
                                         << "; first difference at " << at;
}

}  // namespace

TEST(AppWeb, StaticFilesOverPlainHttp1) {
    std::signal(SIGPIPE, SIG_IGN);
    WebRoot root;
    Process p({KEEL_HELLO_BINARY, "--server.port", "0", "--server.threads", "1", "--server.h2c", "true",
               "--hello.static_dir", root.www()});
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();

    // One connection: the 1 MiB file (sendfile), then the small one, then the big one again:
    // each response intact and in order behind the file before it.
    std::string a = root.path("a"), b = root.path("b"), c = root.path("c");
    std::string info =
        run("curl -s -w '%{http_code} %{num_connects};' -o " + a + " " + url(port, "/static/big.bin") + " -o " + b +
            " " + url(port, "/static/small.txt") + " -o " + c + " " + url(port, "/static/big.bin"));
    EXPECT_EQ(info, "200 1;200 0;200 0;");  // one connection, reused
    EXPECT_TRUE(same_bytes(keel::test::read_file(a), root.big()));
    EXPECT_TRUE(same_bytes(keel::test::read_file(b), std::string(1024, 's')));
    EXPECT_TRUE(same_bytes(keel::test::read_file(c), root.big()));

    // A range from the middle, HEAD, and a 304 from the ETag.
    run("curl -s -r 500000-599999 -o " + a + " " + url(port, "/static/big.bin"));
    EXPECT_TRUE(same_bytes(keel::test::read_file(a), root.big().substr(500000, 100000)));
    std::string head = run("curl -s -I " + url(port, "/static/big.bin"));
    EXPECT_NE(head.find("Content-Length: 1048576\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Content-Type: application/octet-stream\r\n"), std::string::npos) << head;
    std::size_t at = head.find("ETag: ");
    ASSERT_NE(at, std::string::npos) << head;
    std::string etag = head.substr(at + 6, head.find("\r\n", at) - at - 6);
    EXPECT_EQ(
        run("curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: " + etag + "' " + url(port, "/static/big.bin")),
        "304");
    EXPECT_EQ(run("curl -s " + url(port, "/static/")), "<h1>index</h1>");
    EXPECT_EQ(run("curl -s -o /dev/null -w '%{http_code}' --path-as-is " + url(port, "/static/../../etc/passwd")),
              "400");
    // Encoded dot segments: the router refuses them (400) before the handler would (404).
    EXPECT_EQ(run("curl -s -o /dev/null -w '%{http_code}' " + url(port, "/static/%2e%2e/%2e%2e/etc/passwd")), "400");
    EXPECT_EQ(run("curl -s -o /dev/null -w '%{http_code}' " + url(port, "/static/..%2f..%2fetc/passwd")), "404");

    // HTTP/2 (h2c): the file body goes through nghttp2's data frames.
    run("curl -s --http2-prior-knowledge -o " + a + " " + url(port, "/static/big.bin"));
    EXPECT_TRUE(same_bytes(keel::test::read_file(a), root.big()));
    run("curl -s --http2-prior-knowledge -r 1000-1999 -o " + a + " " + url(port, "/static/big.bin"));
    EXPECT_TRUE(same_bytes(keel::test::read_file(a), root.big().substr(1000, 1000)));
}

TEST(AppWeb, StaticFilesOverTlsHttp1AndHttp2) {
    std::signal(SIGPIPE, SIG_IGN);
    WebRoot root;
    keel::test::TestPki pki;
    pki.issue("a", "a.test");
    Process p({KEEL_HELLO_BINARY, "--server.port", "0", "--server.threads", "1", "--server.tls_cert", pki.path("a.pem"),
               "--server.tls_key", pki.path("a.key"), "--hello.static_dir", root.www()});
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    std::string https = " --cacert " + pki.ca() + " --resolve a.test:" + std::to_string(port) +
                        ":127.0.0.1 https://a.test:" + std::to_string(port);
    std::string a = root.path("a"), b = root.path("b");
    for (std::string version : {"--http1.1", "--http2"}) {
        std::string info = run("curl -s " + version + " -w '%{http_version} %{http_code};' -o " + a + https +
                               "/static/big.bin -o " + b + https + "/static/small.txt");
        EXPECT_EQ(info, version == "--http2" ? "2 200;2 200;" : "1.1 200;1.1 200;");
        EXPECT_TRUE(same_bytes(keel::test::read_file(a), root.big())) << version;
        EXPECT_TRUE(same_bytes(keel::test::read_file(b), std::string(1024, 's'))) << version;
    }
}

TEST(AppWeb, FormsAndSignedCookiesWithCurl) {
    std::signal(SIGPIPE, SIG_IGN);
    WebRoot root;
    Process p({KEEL_HELLO_BINARY, "--server.port", "0", "--server.threads", "1", "--server.max_body_bytes", "4MiB",
               "--hello.static_dir", root.www()});
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();

    // multipart: a field and two files, the 1 MiB one spilled to a temporary file.
    std::string big = root.www() + "/big.bin";
    EXPECT_EQ(
        run("curl -s -F name=Ada -F 'note=two words' -F 'doc=@" + root.www() +
            "/small.txt;filename=../../x.txt' -F big=@" + big + " " + url(port, "/form")),
        R"({"fields":{"name":"Ada","note":"two words"},"files":[)"
        R"({"field":"doc","filename":"x.txt","content_type":"text/plain","size":1024,"on_disk":false},)"
        R"({"field":"big","filename":"big.bin","content_type":"application/octet-stream","size":1048576,"on_disk":true}]})");
    // urlencoded
    EXPECT_EQ(run("curl -s --data-urlencode 'q=café & co' -d n=1 " + url(port, "/form")),
              R"({"fields":{"q":"café & co","n":"1"},"files":[]})");
    // broken multipart: a 400 naming the problem, and the server goes on
    std::string broken =
        run("curl -s -w ' %{http_code}' -H 'Content-Type: multipart/form-data; boundary=xyz' "
            "--data-binary $'--xyz\\r\\nContent-Disposition: form-data; name=\"a\"\\r\\n\\r\\nunterminated' " +
            url(port, "/form"));
    EXPECT_NE(broken.find("the body ended before the closing boundary"), std::string::npos) << broken;
    EXPECT_TRUE(broken.ends_with(" 400")) << broken;
    std::string wrong_type = run("curl -s -w ' %{http_code}' -H 'Content-Type: text/plain' -d x " + url(port, "/form"));
    EXPECT_TRUE(wrong_type.ends_with(
        "\"the request body must be a form\",\"instance\":\"/form\",\"errors\":[{\"pointer\":\"\","
        "\"reason\":\"Content-Type must be application/x-www-form-urlencoded or multipart/form-data "
        "with a boundary\"}]} 415"))
        << wrong_type;

    // A signed cookie counts visits in curl's jar; a forged value starts over.
    std::string jar = root.path("jar");
    EXPECT_EQ(run("curl -s -c " + jar + " -b " + jar + " " + url(port, "/visits")), R"({"visits":1})");
    EXPECT_EQ(run("curl -s -c " + jar + " -b " + jar + " " + url(port, "/visits")), R"({"visits":2})");
    EXPECT_EQ(run("curl -s -c " + jar + " -b " + jar + " " + url(port, "/visits")), R"({"visits":3})");
    std::string cookies = keel::test::read_file(jar);
    EXPECT_NE(cookies.find("#HttpOnly_127.0.0.1"), std::string::npos) << cookies;
    EXPECT_EQ(run("curl -s -b 'visits=OTk5.AAAA' " + url(port, "/visits")), R"({"visits":1})");
    // Past server.max_body_bytes: a 413 while the upload streams, and the server goes on.
    EXPECT_EQ(run("curl -s -o /dev/null -w '%{http_code}' -F a=@" + big + " -F b=@" + big + " -F c=@" + big +
                  " -F d=@" + big + " " + url(port, "/form")),
              "413");
    std::string headers = run("curl -s -D - -o /dev/null " + url(port, "/visits"));
    EXPECT_NE(headers.find("Set-Cookie: visits="), std::string::npos) << headers;
    EXPECT_NE(headers.find("; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax\r\n"), std::string::npos) << headers;
}

TEST(AppWeb, HelloServesItsGeneratedContractWhichLintsClean) {
    WebRoot root;
    Process p({KEEL_HELLO_BINARY, "--server.port", "0", "--server.threads", "1", "--hello.static_dir", root.www()});
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    std::string file = root.path("openapi.json");
    EXPECT_EQ(run("curl -s -o " + file + " -w '%{http_code}' " + url(port, "/openapi.json")), "200");
    std::string doc = keel::test::read_file(file);
    // Derived from the code: EchoRequest's rules (length 1..280, repeat 1..10) are in its schema.
    EXPECT_NE(
        doc.find(
            R"("EchoRequest":{"type":"object","properties":{"message":{"type":"string","minLength":1,"maxLength":280},)"
            R"("repeat":{"type":"integer","format":"int32","minimum":1,"maximum":10}},"required":["message"])"),
        std::string::npos)
        << doc;
    std::string source = KEEL_SOURCE_DIR;
    std::string lint = run("npx --prefix " + source + "/tools/contract redocly lint --config " + source +
                           "/examples/hello/redocly.yaml " + file + " 2>&1; echo rc=$?");
    EXPECT_TRUE(lint.ends_with("rc=0\n")) << lint;
    std::string page = run("curl -s -D - " + url(port, "/docs"));
    EXPECT_NE(page.find("Content-Security-Policy: default-src 'none'; script-src 'self';"), std::string::npos) << page;
    EXPECT_NE(page.find("<title>hello API</title>"), std::string::npos) << page;
}
