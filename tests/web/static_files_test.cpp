// keel::web::static_files in process: validators and 304s, single and multi ranges (and the
// ranges it must ignore), precompressed siblings, and every way out of the root refused.
// tests/app/app_static_test.cpp serves the same through real sockets (sendfile, TLS, HTTP/2).
#include <keel/testing/recorder.hpp>
#include <keel/web/api_docs.hpp>
#include <keel/web/html.hpp>
#include <keel/web/static_files.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <regex>

namespace fs = std::filesystem;
using keel::testing::TestRequest;

namespace {

class StaticFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        base_ = fs::temp_directory_path() / ("keel-static-" + std::to_string(::getpid()));
        fs::remove_all(base_);
        root_ = base_ / "www";
        fs::create_directories(root_ / "sub");
        write("a.txt", "hello, static world\n");
        write("index.html", "<h1>home</h1>");
        write("sub/index.html", "<h1>sub</h1>");
        write("app.js", "console.log('plain')");
        write("app.js.br", "BROTLI-BYTES");
        write("app.js.gz", "GZIP-BYTES");
        write(".env", "SECRET=1");
        big_.resize(300 * 1024);
        for (std::size_t i = 0; i < big_.size(); ++i) {
            big_[i] = static_cast<char>('a' + i * 7 % 26);
        }
        write("big.bin", big_);
        std::ofstream(base_ / "outside.txt") << "outside the root";
        fs::create_symlink("a.txt", root_ / "link-inside.txt");
        fs::create_symlink(base_ / "outside.txt", root_ / "link-outside.txt");
        fs::create_symlink("../outside.txt", root_ / "link-up.txt");
        fs::create_directory_symlink("/etc", root_ / "etc");
        ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
        handler_ =
            keel::web::static_files(root_.string(), {.strip_prefix = "/static", .cache_control = "public, max-age=60"});
    }
    void TearDown() override { fs::remove_all(base_); }

    void write(const std::string& name, const std::string& bytes) {
        std::ofstream(root_ / name, std::ios::binary) << bytes;
    }

    keel::testing::RecordedResponse get(std::string target,
                                        std::vector<std::pair<std::string, std::string>> headers = {},
                                        std::string method = "GET") {
        TestRequest req{std::move(method), std::move(target)};
        req.headers = std::move(headers);
        return keel::testing::call(handler_, req);
    }

    fs::path base_, root_;
    std::string big_;
    keel::http::Handler handler_;
};

}  // namespace

TEST_F(StaticFiles, ServesAFileWithTypeValidatorsAndCacheControl) {
    auto r = get("/static/a.txt");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello, static world\n");
    EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
    EXPECT_EQ(r.header("Cache-Control"), "public, max-age=60");
    EXPECT_TRUE(std::regex_match(r.header("ETag").value_or(""), std::regex(R"("[0-9a-f]+-14")"))) << *r.header("ETag");
    EXPECT_TRUE(std::regex_match(r.header("Last-Modified").value_or(""),
                                 std::regex(R"([A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT)")));
    EXPECT_EQ(get("/static/").body, "<h1>home</h1>");
    EXPECT_EQ(get("/static/sub/").body, "<h1>sub</h1>");
    EXPECT_EQ(get("/static/sub/").header("Content-Type"), "text/html; charset=utf-8");
    auto big = get("/static/big.bin");  // past memory_body_bytes: a file body
    EXPECT_EQ(big.status, 200);
    EXPECT_EQ(big.body, big_);
    EXPECT_EQ(big.header("Content-Type"), "application/octet-stream");
}

TEST_F(StaticFiles, ConditionalRequestsAnswer304) {
    auto first = get("/static/a.txt");
    std::string etag = *first.header("ETag");
    std::string modified = *first.header("Last-Modified");
    auto r = get("/static/a.txt", {{"If-None-Match", etag}});
    EXPECT_EQ(r.status, 304);
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.header("ETag"), etag);
    EXPECT_EQ(get("/static/a.txt", {{"If-None-Match", "\"other\", W/" + etag}}).status, 304);
    EXPECT_EQ(get("/static/a.txt", {{"If-None-Match", "*"}}).status, 304);
    EXPECT_EQ(get("/static/a.txt", {{"If-None-Match", "\"other\""}}).status, 200);
    EXPECT_EQ(get("/static/a.txt", {{"If-Modified-Since", modified}}).status, 304);
    EXPECT_EQ(get("/static/a.txt", {{"If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"}}).status, 200);
    // If-None-Match wins over If-Modified-Since.
    EXPECT_EQ(get("/static/a.txt", {{"If-None-Match", "\"other\""}, {"If-Modified-Since", modified}}).status, 200);
}

TEST_F(StaticFiles, RangesSingleMultipleAndUnsatisfiable) {
    auto r = get("/static/a.txt", {{"Range", "bytes=0-4"}});
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(r.header("Content-Range"), "bytes 0-4/20");
    EXPECT_EQ(get("/static/a.txt", {{"Range", "bytes=-6"}}).body, "world\n");
    EXPECT_EQ(get("/static/a.txt", {{"Range", "bytes=14-"}}).body, "world\n");
    EXPECT_EQ(get("/static/a.txt", {{"Range", "bytes=14-999"}}).header("Content-Range"), "bytes 14-19/20");
    auto big = get("/static/big.bin", {{"Range", "bytes=100000-299999"}});  // a file body at an offset
    EXPECT_EQ(big.status, 206);
    EXPECT_EQ(big.body, big_.substr(100000, 200000));

    auto multi = get("/static/a.txt", {{"Range", "bytes=0-4, 7-12"}});
    EXPECT_EQ(multi.status, 206);
    EXPECT_EQ(multi.header("Content-Type"), "multipart/byteranges; boundary=keel-byteranges-7d3c9a");
    EXPECT_EQ(multi.body,
              "\r\n--keel-byteranges-7d3c9a\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes "
              "0-4/20\r\n\r\nhello"
              "\r\n--keel-byteranges-7d3c9a\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes "
              "7-12/20\r\n\r\nstatic"
              "\r\n--keel-byteranges-7d3c9a--\r\n");

    // Past memory_body_bytes the parts are streamed from the file as the client reads, not built
    // in memory (issue 25 #2: 100 such requests from clients that did not read held 522 MiB).
    bool streamed = false;
    keel::http::Handler probe = [&](keel::http::Request& req) -> keel::http::Outcome {
        keel::http::Outcome o = handler_.invoke(req);
        streamed = o.ready() && o.response().is_stream() && o.response().body_view().empty();
        return o;
    };
    TestRequest two_big_ranges{"GET", "/static/big.bin"};
    two_big_ranges.headers = {{"Range", "bytes=0-99999,200000-299999"}};
    auto large = keel::testing::call(probe, two_big_ranges);
    EXPECT_TRUE(streamed);
    EXPECT_EQ(large.status, 206);
    EXPECT_EQ(large.body,
              "\r\n--keel-byteranges-7d3c9a\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes "
              "0-99999/307200\r\n\r\n" +
                  big_.substr(0, 100000) +
                  "\r\n--keel-byteranges-7d3c9a\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes "
                  "200000-299999/307200\r\n\r\n" +
                  big_.substr(200000, 100000) + "\r\n--keel-byteranges-7d3c9a--\r\n");
    (void)keel::testing::call(probe, TestRequest{"GET", "/static/a.txt"}.with_header("Range", "bytes=0-4, 7-12"));
    EXPECT_FALSE(streamed);  // small answers stay in memory

    auto unsatisfiable = get("/static/a.txt", {{"Range", "bytes=20-30"}});
    EXPECT_EQ(unsatisfiable.status, 416);
    EXPECT_EQ(unsatisfiable.header("Content-Range"), "bytes */20");
    EXPECT_EQ(get("/static/a.txt", {{"Range", "bytes=-0"}}).status, 416);

    // Ignored (the whole file, 200): bad syntax, other units, ranges adding up past the file
    // (overlap amplification), too many ranges, a stale If-Range.
    for (std::string range : {"bytes=5-1", "bytes=x-3", "items=0-1", "bytes=0-,0-", "bytes=0-9,5-15"}) {
        auto w = get("/static/a.txt", {{"Range", range}});
        EXPECT_EQ(w.status, 200) << range;
        EXPECT_EQ(w.body, "hello, static world\n") << range;
    }
    std::string many = "bytes=0-0";
    for (int i = 1; i < 17; ++i) {
        many += "," + std::to_string(i) + "-" + std::to_string(i);
    }
    EXPECT_EQ(get("/static/a.txt", {{"Range", many}}).status, 200);
    std::string etag = *get("/static/a.txt").header("ETag");
    EXPECT_EQ(get("/static/a.txt", {{"Range", "bytes=0-4"}, {"If-Range", etag}}).status, 206);
    EXPECT_EQ(get("/static/a.txt", {{"Range", "bytes=0-4"}, {"If-Range", "\"stale\""}}).status, 200);
}

TEST_F(StaticFiles, PrecompressedSiblingsWhenTheClientAcceptsThem) {
    auto br = get("/static/app.js", {{"Accept-Encoding", "gzip, deflate, br"}});
    EXPECT_EQ(br.body, "BROTLI-BYTES");
    EXPECT_EQ(br.header("Content-Encoding"), "br");
    EXPECT_EQ(br.header("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(br.header("Vary"), "Accept-Encoding");
    auto gz = get("/static/app.js", {{"Accept-Encoding", "gzip, br;q=0"}});
    EXPECT_EQ(gz.body, "GZIP-BYTES");
    EXPECT_EQ(gz.header("Content-Encoding"), "gzip");
    EXPECT_NE(gz.header("ETag"), br.header("ETag"));
    auto plain = get("/static/app.js", {{"Accept-Encoding", "gzip;q=0.0, identity"}});
    EXPECT_EQ(plain.body, "console.log('plain')");
    EXPECT_EQ(plain.header("Content-Encoding"), std::nullopt);
    EXPECT_EQ(get("/static/app.js").body, "console.log('plain')");
    EXPECT_EQ(get("/static/app.js.br").header("Content-Type"), "application/octet-stream");  // asked for by name
}

TEST_F(StaticFiles, NothingOutsideTheRootNorHiddenNorSpecial) {
    for (std::string target :
         {"/static/../outside.txt", "/static/%2e%2e/outside.txt", "/static/sub/%2E%2E/%2E%2E/outside.txt",
          "/static/..%2Foutside.txt", "/static/link-outside.txt", "/static/link-up.txt", "/static/etc/passwd",
          "/static/.env", "/static/sub/../.env", "/static/fifo", "/static/missing.txt", "/static/a.txt/x",
          "/other/a.txt"}) {
        auto r = get(target);
        EXPECT_EQ(r.status, 404) << target << " → " << r.body;
        EXPECT_EQ(r.body.find("outside the root"), std::string::npos) << target;
        EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
    }
    EXPECT_EQ(get("/static/link-inside.txt").body, "hello, static world\n");  // a symlink within the root
    EXPECT_EQ(get("/static/a%00.txt").status, 400);
    EXPECT_EQ(get("/static/%zz").status, 400);
    auto dir = get("/static/sub?x=1");
    EXPECT_EQ(dir.status, 301);
    EXPECT_EQ(dir.header("Location"), "/static/sub/?x=1");
    auto post = get("/static/a.txt", {}, "POST");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("Allow"), "GET, HEAD");
    EXPECT_THROW(keel::web::static_files((base_ / "nope").string()), std::system_error);
}

TEST(ContentType, ByExtension) {
    EXPECT_EQ(keel::web::content_type_for("a/b/index.HTML"), "text/html; charset=utf-8");
    EXPECT_EQ(keel::web::content_type_for("x.woff2"), "font/woff2");
    EXPECT_EQ(keel::web::content_type_for("x.tar.gz"), "application/gzip");
    EXPECT_EQ(keel::web::content_type_for(".bashrc"), "application/octet-stream");
    EXPECT_EQ(keel::web::content_type_for("README"), "application/octet-stream");
    EXPECT_EQ(keel::web::content_type_for("dir.js/file"), "application/octet-stream");
}

TEST(Html, EscapesWhatCouldOpenATagOrEndAnAttribute) {
    EXPECT_EQ(keel::web::html_escape(R"(<script>alert("x") & 'y'</script>)"),
              "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;");
    EXPECT_EQ(keel::web::html_escape("plain café"), "plain café");
    EXPECT_EQ(keel::web::html_escape(""), "");
}

TEST_F(StaticFiles, ApiDocsPageServesOnlyItsFilesUnderAStrictCsp) {
    write("swagger-ui.css", "body{}");
    write("swagger-ui-bundle.js", "var SwaggerUIBundle;");
    keel::web::ApiDocsOptions docs{.assets_dir = root_.string(), .spec_url = "/api/\"spec\".json", .title = "A <b>"};
    EXPECT_TRUE(keel::web::api_docs_assets_present(root_.string()));
    EXPECT_FALSE(keel::web::api_docs_assets_present((base_ / "nope").string()));
    auto page = keel::testing::call(keel::web::api_docs_page(docs), TestRequest{"GET", "/docs"});
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.header("Content-Security-Policy"), std::string(keel::web::kApiDocsCsp));
    EXPECT_NE(page.body.find("<title>A &lt;b&gt;</title>"), std::string::npos) << page.body;
    EXPECT_NE(page.body.find(R"(<script src="/docs/keel-docs.js"></script>)"), std::string::npos) << page.body;
    EXPECT_EQ(page.body.find("<script>"), std::string::npos) << "no inline script: " << page.body;
    keel::http::Handler assets = keel::web::api_docs_assets(docs);
    auto init = keel::testing::call(assets, TestRequest{"GET", "/docs/keel-docs.js"});
    EXPECT_NE(init.body.find(R"(SwaggerUIBundle({url: "/api/\"spec\".json")"), std::string::npos) << init.body;
    EXPECT_EQ(keel::testing::call(assets, TestRequest{"GET", "/docs/swagger-ui.css"}).body, "body{}");
    EXPECT_EQ(keel::testing::call(assets, TestRequest{"GET", "/docs/a.txt"}).status, 404);  // not one of its files
    EXPECT_EQ(keel::testing::call(assets, TestRequest{"GET", "/docs/index.html"}).status, 404);
}
