// linkd's /docs: the contract rendered by Swagger UI in a real browser (Debian's chromium,
// headless, driven by npm's puppeteer-core through tests/linkd/docs_page.cjs). Every operation
// of openapi.json must appear, the page must load under its strict CSP without a console
// error, and the screenshot is kept in the build directory (docs-page.png) as an artefact.
#include "databases.hpp"

#include <keel/json/reader.hpp>

#include <support/process.hpp>
#include <support/run_command.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

using keel::test::Process;

namespace {

std::vector<std::string> strings(keel::json::Reader& array) {
    std::vector<std::string> out;
    array.for_each_element([&](keel::json::Reader& e) {
        std::string s;
        e.get(s);
        out.push_back(s);
    });
    return out;
}

}  // namespace

TEST(LinkdDocsPage, EveryOperationShowsInHeadlessChromium) {
    linkd::test::TestDatabase db(linkd::test::Backend::sqlite);
    Process p({LINKD_BINARY, "--server.port", "0", "--server.threads", "1", "--db.url", db.url(), "--log.access",
               "false", "--admin.listen", "127.0.0.1:0"});
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    std::string base = "http://127.0.0.1:" + std::to_string(port);

    std::string headers = keel::test::run("curl -s -D - -o /dev/null " + base + "/docs");
    EXPECT_NE(headers.find("Content-Security-Policy: default-src 'none'; script-src 'self';"), std::string::npos)
        << headers;
    EXPECT_EQ(keel::test::run("curl -s -o /dev/null -w '%{http_code}' " + base + "/docs/index.html"), "404");
    EXPECT_EQ(keel::test::run("curl -s -o /dev/null -w '%{http_code}' " + base + "/docs/swagger-ui-bundle.js"), "200");

    std::string screenshot = std::string(KEEL_BUILD_DIR) + "/docs-page.png";
    std::filesystem::remove(screenshot);
    std::string out = keel::test::run("NODE_PATH=" + std::string(KEEL_NODE_MODULES) + " timeout 120 node " +
                                      KEEL_DOCS_PAGE_SCRIPT + " " + base + " " + screenshot + " 2>&1");
    std::vector<std::string> expected, shown, problems;
    std::string csp, error;
    auto parsed = keel::json::read_document(out, [&](keel::json::Reader& root) {
        root.for_each_field([&](std::string_view key, keel::json::Reader& v) {
            if (key == "expected")
                expected = strings(v);
            if (key == "shown")
                shown = strings(v);
            if (key == "problems")
                problems = strings(v);
            if (key == "csp")
                v.get(csp);
            if (key == "error")
                v.get(error);
        });
    });
    ASSERT_TRUE(parsed) << out;
    ASSERT_TRUE(error.empty()) << error;
    EXPECT_GE(expected.size(), 10u) << out;  // linkd's contract: links, keys, stats, health, ...
    EXPECT_EQ(std::set<std::string>(shown.begin(), shown.end()),
              std::set<std::string>(expected.begin(), expected.end()));
    EXPECT_TRUE(problems.empty()) << "console errors (CSP violations included): " << out;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
    EXPECT_GT(std::filesystem::file_size(screenshot), 10000u);
}
