// linkd end to end over real sockets, on SQLite and on PostgreSQL: every endpoint and every
// error status of the API. Each test's exchanges are then validated against openapi.yaml by
// a real validator (Ajv via tools/contract/validate.mjs): code and contract cannot drift.
#include "api_client.hpp"
#include "databases.hpp"

#include "handler/dto.hpp"
#include "linkd.hpp"

#include <keel/json/parse.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>
#include <keel/openapi/openapi.hpp>

#include <support/eventually.hpp>

#include <cstdlib>
#include <mutex>
#include <thread>

namespace {

using namespace linkd;
using linkd::test::ApiClient;
using linkd::test::Backend;
using linkd::test::Reply;

struct FieldErrorOut {
    std::string pointer;
    std::string reason;
};
KEEL_JSON(FieldErrorOut, pointer, reason)

struct ProblemOut {
    std::string type;
    std::string title;
    int status = 0;
    std::string detail;
    std::optional<std::string> instance;
    std::optional<std::string> request_id;
    std::optional<std::vector<FieldErrorOut>> errors;
};
KEEL_JSON(ProblemOut, type, title, status, detail, instance, request_id, errors)

template <class T>
T parse(const Reply& r) {
    T out{};
    keel::json::Errors errors;
    EXPECT_TRUE(keel::json::parse(r.body, out, errors, {.reject_unknown_fields = false}) && errors.empty())
        << "cannot read " << r.body;
    return out;
}

std::string fields_of(const Reply& r) {
    std::string s;
    for (auto& e : parse<ProblemOut>(r).errors.value_or(std::vector<FieldErrorOut>{})) {
        s += e.pointer + " ";
    }
    return s;
}

class Api : public ::testing::TestWithParam<Backend> {
  protected:
    void SetUp() override {
        LinkdOptions o;
        o.repo.url = db_.url();
        o.repo.pool.max_open = 4;
        o.links.now = [this] { return now_.load(); };
        o.keys.now = [this] { return now_.load(); };
        o.flush_interval = std::chrono::hours(1);  // the tests flush explicitly
        o.base_url = "https://lnk.test";
        configure(o);
        linkd_ = std::make_unique<Linkd>(o, workers_);
        auto admin = linkd_->start();
        ASSERT_TRUE(admin) << admin.error().message();
        ASSERT_TRUE(admin->has_value());
        admin_key_ = (*admin)->secret;
        keel::router::Router r;
        r.use(keel::mw::request_id());
        r.use(keel::mw::trace_context());
        linkd_->add_routes(r, [this] { return accepting_.load(); });
        server_ = std::make_unique<keel::testing::TestServer>(r.handler(), keel::testing::TestServer::default_options(),
                                                              &workers_);
        client_ = std::make_unique<ApiClient>(server_->port());
        user_key_ = new_key("user", false);
    }

    virtual void configure(LinkdOptions&) {}

    void TearDown() override {
        server_.reset();
        linkd_->stop();
        validate_against_contract();
    }

    void validate_against_contract() {
        if (!client_ || client_->recorded() == 0) {
            return;
        }
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = std::string(info->test_suite_name()) + "." + info->name();
        for (char& c : name) {
            if (c == '/') {
                c = '_';
            }
        }
        std::string log = std::string(LINKD_CONTRACT_DIR) + "/" + name + ".jsonl";
        client_->save(log);
        std::string cmd = std::string("node ") + LINKD_CONTRACT_TOOLS + "/validate.mjs " + LINKD_OPENAPI_JSON + " " +
                          log + " > " + log + ".out 2>&1";
        int rc = std::system(cmd.c_str());
        std::ifstream out(log + ".out");
        std::string report((std::istreambuf_iterator<char>(out)), {});
        EXPECT_EQ(rc, 0) << "responses do not match openapi.yaml (is tools/contract installed? scripts/bootstrap "
                            "runs npm ci there):\n"
                         << report;
    }

    std::string new_key(const std::string& name, bool admin) {
        auto r = client_->call("POST", "/v1/keys",
                               R"({"name":")" + name + R"(","admin":)" + (admin ? "true" : "false") + "}", admin_key_);
        EXPECT_EQ(r.status, 201) << r.body;
        return parse<KeyCreatedOut>(r).key;
    }

    Reply create(const std::string& body, const std::string& key = {}) {
        return client_->call("POST", "/v1/links", body, key.empty() ? user_key_ : key);
    }

    std::atomic<std::int64_t> now_{1'800'000'000};
    std::atomic<bool> accepting_{true};
    linkd::test::TestDatabase db_{GetParam()};
    keel::WorkerPool workers_{{.threads = 4, .queue_capacity = 1024}};
    std::unique_ptr<Linkd> linkd_;
    std::unique_ptr<keel::testing::TestServer> server_;
    std::unique_ptr<ApiClient> client_;
    std::string admin_key_;
    std::string user_key_;
};

TEST_P(Api, KeysNeedAnAdminAndCanBeRevoked) {
    auto anonymous = client_->call("POST", "/v1/keys", R"({"name":"x"})");
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_EQ(anonymous.header("WWW-Authenticate"), "Bearer realm=\"linkd\"");
    EXPECT_EQ(anonymous.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(client_->call("POST", "/v1/keys", R"({"name":"x"})", "lk_" + std::string(40, 'x')).status, 401);
    EXPECT_EQ(client_->call("POST", "/v1/keys", R"({"name":"x"})", user_key_).status, 403);

    auto made = client_->call("POST", "/v1/keys", R"({"name":"ci"})", admin_key_);
    ASSERT_EQ(made.status, 201) << made.body;
    auto key = parse<KeyCreatedOut>(made);
    EXPECT_EQ(made.header("Location"), "/v1/keys/" + std::to_string(key.id));
    EXPECT_EQ(made.header("Cache-Control"), "no-store");
    EXPECT_EQ(key.name, "ci");
    EXPECT_FALSE(key.admin);
    EXPECT_EQ(key.key.substr(0, 11), key.prefix);

    auto empty_name = client_->call("POST", "/v1/keys", R"({"name":""})", admin_key_);
    EXPECT_EQ(empty_name.status, 400);
    EXPECT_EQ(fields_of(empty_name), "/name ");
    EXPECT_EQ(client_->call("POST", "/v1/keys", R"({"name":)", admin_key_).status, 400);  // malformed
    EXPECT_EQ(client_->call("POST", "/v1/keys", "name=x", admin_key_, {}, "application/x-www-form-urlencoded").status,
              415);

    EXPECT_EQ(create(R"({"url":"https://a.example"})", key.key).status, 201);
    EXPECT_EQ(client_->call("DELETE", "/v1/keys/" + std::to_string(key.id), std::nullopt, user_key_).status, 403);
    EXPECT_EQ(client_->call("DELETE", "/v1/keys/" + std::to_string(key.id), std::nullopt, admin_key_).status, 204);
    EXPECT_EQ(create(R"({"url":"https://a.example"})", key.key).status, 401);  // revoked: at once
    EXPECT_EQ(client_->call("DELETE", "/v1/keys/" + std::to_string(key.id), std::nullopt, admin_key_).status, 404);
    EXPECT_EQ(client_->call("DELETE", "/v1/keys/999999", std::nullopt, admin_key_).status, 404);
}

TEST_P(Api, CreatesLinksAndReportsEveryBadField) {
    auto made = create(R"({"url":"https://example.com/page","slug":"my-page","permanent":true})");
    ASSERT_EQ(made.status, 201) << made.body;
    EXPECT_EQ(made.header("Location"), "/v1/links/my-page");
    auto link = parse<LinkOut>(made);
    EXPECT_EQ(link.slug, "my-page");
    EXPECT_EQ(link.url, "https://example.com/page");
    EXPECT_EQ(link.short_url, "https://lnk.test/my-page");
    EXPECT_TRUE(link.permanent);
    EXPECT_EQ(link.created_at, "2027-01-15T08:00:00Z");
    EXPECT_EQ(link.expires_at, std::nullopt);
    EXPECT_EQ(link.clicks, 0);

    auto generated = create(R"({"url":"https://example.com/x","expires_at":"2027-02-01T00:00:00Z"})");
    ASSERT_EQ(generated.status, 201) << generated.body;
    auto g = parse<LinkOut>(generated);
    EXPECT_EQ(g.slug.size(), 7u);
    EXPECT_EQ(g.expires_at, "2027-02-01T00:00:00Z");

    auto bad = create(R"({"url":"ftp://user:pw@x","slug":"no","expires_at":"soon"})");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(fields_of(bad), "/url /slug /expires_at ");
    EXPECT_EQ(fields_of(create(R"({"url":"https://u:p@example.com/"})")), "/url ");
    EXPECT_EQ(fields_of(create("{\"url\":\"https://example.com/" + std::string(2100, 'a') + "\"}")), "/url ");
    EXPECT_EQ(fields_of(create(R"({"url":"https://example.com","slug":"healthz"})")), "/slug ");
    EXPECT_EQ(fields_of(create(R"({"slug":"abc"})")), "/url ");  // required
    EXPECT_EQ(fields_of(create(R"({"url":"https://e.com","extra":1})")), "/extra ");
    EXPECT_EQ(create(R"({"url":"https://other.example","slug":"my-page"})").status, 409);
    EXPECT_EQ(create(R"({"url":"https://example.com"})", "").status, 201);  // user key by default
    EXPECT_EQ(client_->call("POST", "/v1/links", R"({"url":"https://example.com"})").status, 401);
}

TEST_P(Api, ReadsALinkWithETagsAndHidesOtherKeysLinks) {
    ASSERT_EQ(create(R"({"url":"https://example.com/r","slug":"readme"})").status, 201);
    auto got = client_->call("GET", "/v1/links/readme", std::nullopt, user_key_);
    ASSERT_EQ(got.status, 200);
    auto etag = got.header("ETag");
    ASSERT_TRUE(etag);
    auto same = client_->call("GET", "/v1/links/readme", std::nullopt, user_key_, {{"If-None-Match", *etag}});
    EXPECT_EQ(same.status, 304);
    EXPECT_EQ(same.body, "");
    EXPECT_EQ(same.header("ETag"), etag);
    EXPECT_EQ(
        client_->call("GET", "/v1/links/readme", std::nullopt, user_key_, {{"If-None-Match", "\"other\""}}).status,
        200);
    EXPECT_EQ(
        client_->call("GET", "/v1/links/readme", std::nullopt, user_key_, {{"If-None-Match", "\"a\", W/" + *etag}})
            .status,
        304);
    EXPECT_EQ(got.header("Cache-Control"), "private, no-cache");
    auto last_modified = got.header("Last-Modified");
    ASSERT_TRUE(last_modified);
    EXPECT_EQ(*last_modified, "Fri, 15 Jan 2027 08:00:00 GMT");
    auto since =
        client_->call("GET", "/v1/links/readme", std::nullopt, user_key_, {{"If-Modified-Since", *last_modified}});
    EXPECT_EQ(since.status, 304);
    EXPECT_EQ(since.header("Last-Modified"), last_modified);
    auto older = client_->call("GET", "/v1/links/readme", std::nullopt, user_key_,
                               {{"If-Modified-Since", "Thu, 14 Jan 2027 08:00:00 GMT"}});
    EXPECT_EQ(older.status, 200);
    // With both, If-None-Match decides (RFC 9110): a stale ETag wins over a fresh date.
    EXPECT_EQ(client_
                  ->call("GET", "/v1/links/readme", std::nullopt, user_key_,
                         {{"If-None-Match", "\"stale\""}, {"If-Modified-Since", *last_modified}})
                  .status,
              200);
    std::string other = new_key("other", false);
    auto hidden = client_->call("GET", "/v1/links/readme", std::nullopt, other);
    EXPECT_EQ(hidden.status, 404);  // not 403: another key's link does not exist for it
    EXPECT_EQ(parse<ProblemOut>(hidden).instance, "/v1/links/readme");
    EXPECT_EQ(client_->call("GET", "/v1/links/nothing", std::nullopt, user_key_).status, 404);
    auto hop = client_->call("GET", "/readme");
    ASSERT_EQ(hop.status, 302);  // a click changes the representation
    EXPECT_EQ(hop.header("Cache-Control"), "private, max-age=0");
    now_ += 10;
    EXPECT_EQ(client_->call("GET", "/v1/links/readme", std::nullopt, user_key_, {{"If-Modified-Since", *last_modified}})
                  .status,
              200);
    auto after = client_->call("GET", "/v1/links/readme", std::nullopt, user_key_, {{"If-None-Match", *etag}});
    EXPECT_EQ(after.status, 200);
    EXPECT_EQ(parse<LinkOut>(after).clicks, 1);
}

TEST_P(Api, RedirectsCountClicksAndExpire) {
    ASSERT_EQ(create(R"({"url":"https://example.com/t","slug":"temp"})").status, 201);
    ASSERT_EQ(create(R"({"url":"https://example.com/p","slug":"perm","permanent":true})").status, 201);
    ASSERT_EQ(create(R"({"url":"https://example.com/e","slug":"brief","expires_at":"2027-01-15T09:00:00Z"})").status,
              201);
    for (int i = 0; i < 5; ++i) {
        auto r = client_->call("GET", "/temp");
        ASSERT_EQ(r.status, 302);
        EXPECT_EQ(r.header("Location"), "https://example.com/t");
    }
    auto p = client_->call("GET", "/perm");
    EXPECT_EQ(p.status, 301);
    EXPECT_EQ(p.header("Location"), "https://example.com/p");
    auto unknown = client_->call("GET", "/unknown-slug");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(client_->call("GET", "/brief").status, 302);
    now_ += 3601;
    auto gone = client_->call("GET", "/brief");
    EXPECT_EQ(gone.status, 410);
    EXPECT_EQ(parse<ProblemOut>(gone).status, 410);

    auto flushed = linkd_->flush_clicks();
    ASSERT_TRUE(flushed) << flushed.error().message();
    EXPECT_EQ(*flushed, 7);  // 5 + 1 + 1; the 410 is not a click
    auto stats = client_->call("GET", "/v1/links/temp/stats", std::nullopt, user_key_);
    ASSERT_EQ(stats.status, 200) << stats.body;
    auto s = parse<LinkStatsOut>(stats);
    EXPECT_EQ(s.total_clicks, 5);
    ASSERT_EQ(s.days.size(), 30u);
    EXPECT_EQ(s.days.back().date, "2027-01-15");
    EXPECT_EQ(s.days.back().clicks, 5);
    EXPECT_EQ(s.days.front().date, "2026-12-17");
    EXPECT_EQ(parse<LinkOut>(client_->call("GET", "/v1/links/temp", std::nullopt, user_key_)).clicks, 5);
    EXPECT_EQ(client_->call("GET", "/v1/links/nothing/stats", std::nullopt, user_key_).status, 404);
}

TEST_P(Api, UpdatesAndDeletes) {
    ASSERT_EQ(create(R"({"url":"https://old.example/","slug":"moving","expires_at":"2027-06-01T00:00:00Z"})").status,
              201);
    EXPECT_EQ(client_->call("GET", "/moving").header("Location"), "https://old.example/");
    auto changed = client_->call("PATCH", "/v1/links/moving", R"({"url":"https://new.example/"})", user_key_);
    ASSERT_EQ(changed.status, 200) << changed.body;
    EXPECT_EQ(parse<LinkOut>(changed).expires_at, "2027-06-01T00:00:00Z");                  // untouched
    EXPECT_EQ(client_->call("GET", "/moving").header("Location"), "https://new.example/");  // cache invalidated
    auto cleared = client_->call("PATCH", "/v1/links/moving", R"({"expires_at":null,"permanent":true})", user_key_);
    ASSERT_EQ(cleared.status, 200);
    EXPECT_EQ(parse<LinkOut>(cleared).expires_at, std::nullopt);
    EXPECT_EQ(client_->call("GET", "/moving").status, 301);
    auto bad =
        client_->call("PATCH", "/v1/links/moving", R"({"url":"nope","expires_at":"2000-01-01T00:00:00Z"})", user_key_);
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(fields_of(bad), "/url /expires_at ");
    EXPECT_EQ(client_->call("PATCH", "/v1/links/moving", "{}", user_key_).status, 400);
    EXPECT_EQ(client_->call("PATCH", "/v1/links/nothing", R"({"permanent":true})", user_key_).status, 404);
    EXPECT_EQ(client_->call("PATCH", "/v1/links/moving", "x", user_key_, {}, "text/plain").status, 415);

    EXPECT_EQ(client_->call("DELETE", "/v1/links/moving", std::nullopt, user_key_).status, 204);
    EXPECT_EQ(client_->call("GET", "/v1/links/moving", std::nullopt, user_key_).status, 404);
    EXPECT_EQ(client_->call("GET", "/moving").status, 404);
    EXPECT_EQ(client_->call("DELETE", "/v1/links/moving", std::nullopt, user_key_).status, 404);
}

TEST_P(Api, ListsPageByPage) {
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(create("{\"url\":\"https://example.com/\",\"slug\":\"page" + std::to_string(i) + "\"}").status, 201);
    }
    std::vector<std::string> slugs;
    std::string target = "/v1/links?limit=2";
    for (int pages = 0; pages < 10; ++pages) {
        auto r = client_->call("GET", target, std::nullopt, user_key_);
        ASSERT_EQ(r.status, 200) << r.body;
        auto page = parse<LinkPageOut>(r);
        for (auto& l : page.items) {
            slugs.push_back(l.slug);
        }
        if (!page.next_cursor) {
            break;
        }
        target = "/v1/links?limit=2&cursor=" + *page.next_cursor;
    }
    EXPECT_EQ(slugs, (std::vector<std::string>{"page4", "page3", "page2", "page1", "page0"}));
    EXPECT_EQ(parse<LinkPageOut>(client_->call("GET", "/v1/links", std::nullopt, admin_key_)).items.size(), 0u);
    EXPECT_EQ(fields_of(client_->call("GET", "/v1/links?limit=0", std::nullopt, user_key_)), "/limit ");
    EXPECT_EQ(fields_of(client_->call("GET", "/v1/links?limit=abc", std::nullopt, user_key_)), "/limit ");
    EXPECT_EQ(fields_of(client_->call("GET", "/v1/links?limit=101", std::nullopt, user_key_)), "/limit ");
    EXPECT_EQ(fields_of(client_->call("GET", "/v1/links?cursor=zzz", std::nullopt, user_key_)), "/cursor ");
}

TEST_P(Api, HealthReadinessAndTheContract) {
    EXPECT_EQ(client_->call("GET", "/healthz").status, 200);
    auto ready = client_->call("GET", "/readyz");
    EXPECT_EQ(ready.status, 200);
    EXPECT_NE(ready.body.find("\"database\":\"ok\""), std::string::npos);
    accepting_ = false;  // what App does when shutdown begins
    auto draining = client_->call("GET", "/readyz");
    EXPECT_EQ(draining.status, 503);
    EXPECT_EQ(draining.header("Retry-After"), "1");
    auto spec = client_->call("GET", "/openapi.json");
    EXPECT_EQ(spec.status, 200);
    std::ifstream file(LINKD_OPENAPI_JSON);
    std::string expected((std::istreambuf_iterator<char>(file)), {});
    EXPECT_EQ(spec.body, expected);
}

// The hand-written contract and what linkd's routes and types say about themselves (their
// doc() and KEEL_JSON types, as keel::openapi derives them) agree on every operation, status,
// parameter and body shape (tests/linkd/compare_contract.py says how).
TEST_P(Api, TheContractMatchesTheRoutesAndTheirTypes) {
    keel::router::Router r;
    linkd_->add_routes(r, [] { return true; });
    std::string generated = std::string(LINKD_CONTRACT_DIR) + "/generated-" +
                            (GetParam() == Backend::sqlite ? std::string("sqlite") : std::string("postgres")) + ".json";
    {
        std::ofstream out(generated);
        out << keel::openapi::document(r, {.title = "linkd",
                                           .version = "1.0.0",
                                           .security_schemes = {{"apiKey", R"({"type":"http","scheme":"bearer"})"}}});
    }
    auto run = [](const std::string& cmd) {
        std::string output;
        FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) {
            output.append(buf, n);
        }
        return std::make_pair(::pclose(p), output);
    };
    auto [rc, report] =
        run(std::string("/usr/bin/python3 ") + LINKD_COMPARE_CONTRACT + " " + LINKD_OPENAPI_JSON + " " + generated);
    EXPECT_EQ(rc, 0) << report;
    EXPECT_NE(report.find("compared 12 operations: 0 differences"), std::string::npos) << report;
    // The derived document is a valid contract by the same lint rules as the YAML.
    auto [lint_rc, lint] = run(std::string("npx --prefix ") + LINKD_CONTRACT_TOOLS + " redocly lint --config " +
                               LINKD_REDOCLY_CONFIG + " " + generated);
    EXPECT_EQ(lint_rc, 0) << lint;
}

INSTANTIATE_TEST_SUITE_P(Backends, Api, ::testing::Values(Backend::sqlite, Backend::postgres),
                         linkd::test::backend_name);

/// The same API with tight limits: creation per key, redirects per client IP.
class ApiLimited : public Api {
  protected:
    void configure(LinkdOptions& o) override {
        o.create_limit = {.rate = 0.5, .burst = 3};
        o.redirect_limit = {.rate = 1, .burst = 5};
    }
};

TEST_P(ApiLimited, CreationPerKeyAndRedirectsPerIpAreLimited) {
    // new_key() in SetUp created no link; the user key has its whole burst.
    for (int i = 0; i < 3; ++i) {
        auto r = create("{\"url\":\"https://example.com/\",\"slug\":\"lim" + std::to_string(i) + "\"}");
        ASSERT_EQ(r.status, 201) << r.body;
        EXPECT_EQ(r.header("RateLimit-Limit"), "3");
        EXPECT_EQ(r.header("RateLimit-Remaining"), std::to_string(2 - i));
    }
    auto denied = create(R"({"url":"https://example.com/","slug":"lim3"})");
    EXPECT_EQ(denied.status, 429);
    EXPECT_EQ(denied.header("Retry-After"), "2");
    EXPECT_EQ(denied.header("RateLimit-Remaining"), "0");
    EXPECT_EQ(create(R"({"url":"https://example.com/","slug":"lim3"})", admin_key_).status, 201);  // its own budget
    int ok = 0, limited = 0;
    for (int i = 0; i < 8; ++i) {
        auto r = client_->call("GET", "/lim0");
        ok += r.status == 302;
        limited += r.status == 429;
    }
    EXPECT_EQ(ok, 5);  // the burst
    EXPECT_EQ(limited, 3);
    EXPECT_EQ(client_->call("GET", "/v1/links/lim0", std::nullopt, user_key_).status, 200);  // reads are not limited
}

INSTANTIATE_TEST_SUITE_P(Backends, ApiLimited, ::testing::Values(Backend::sqlite, Backend::postgres),
                         linkd::test::backend_name);

}  // namespace

namespace {

/// Receives linkd's webhooks; answers 503 to the first delivery to make linkd retry.
struct Receiver {
    struct Delivery {
        std::string type, id, timestamp, signature, traceparent, body;
    };
    std::mutex mu;
    std::vector<Delivery> seen;
    int refuse_first = 1;
    keel::testing::TestServer server{[this](keel::http::Request& req) {
        std::lock_guard lock(mu);
        seen.push_back({std::string(req.header("X-Linkd-Event").value_or("")),
                        std::string(req.header("X-Linkd-Delivery").value_or("")),
                        std::string(req.header("X-Linkd-Timestamp").value_or("")),
                        std::string(req.header("X-Linkd-Signature").value_or("")),
                        std::string(req.header("traceparent").value_or("")), std::string(req.body())});
        return keel::http::Response::text("", static_cast<int>(seen.size()) <= refuse_first ? 503 : 204);
    }};
    std::vector<Delivery> wait_for(std::size_t n) {
        keel::test::eventually(
            [&] {
                std::lock_guard lock(mu);
                return seen.size() >= n;
            },
            std::chrono::seconds(5));
        std::lock_guard lock(mu);
        return seen;  // the caller checks the count
    }
};

class ApiWebhooks : public Api {
  protected:
    void configure(LinkdOptions& o) override {
        o.webhook.url = receiver_.server.url("/hooks");
        o.webhook.secret = "s3cret";
        o.webhook.retry_base = std::chrono::milliseconds(20);
    }
    Receiver receiver_;
};

TEST_P(ApiWebhooks, SignedEventsForCreatedAndDeletedLinksDeliveredWithRetries) {
    auto t0 = std::chrono::steady_clock::now();
    const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    ASSERT_EQ(client_
                  ->call("POST", "/v1/links", R"({"url":"https://example.com/h","slug":"hooked"})", user_key_,
                         {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}})
                  .status,
              201);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));  // never waits for delivery
    auto got = receiver_.wait_for(2);
    ASSERT_EQ(got.size(), 2u);        // refused once, then delivered
    EXPECT_EQ(got[0].id, got[1].id);  // the same delivery, retried
    const auto& d = got[1];
    EXPECT_EQ(d.type, "link.created");
    EXPECT_EQ(d.signature, linkd::webhook_signature("s3cret", d.timestamp, d.body));
    EXPECT_NE(d.signature, linkd::webhook_signature("wrong", d.timestamp, d.body));
    EXPECT_NE(d.body.find("\"type\":\"link.created\""), std::string::npos) << d.body;
    EXPECT_NE(d.body.find("\"slug\":\"hooked\",\"url\":\"https://example.com/h\""), std::string::npos) << d.body;
    EXPECT_EQ(d.traceparent.substr(0, 36), "00-" + trace + "-")
        << "the delivery continues the creating request's trace";
    ASSERT_EQ(client_->call("DELETE", "/v1/links/hooked", std::nullopt, user_key_).status, 204);
    auto after = receiver_.wait_for(3);
    ASSERT_EQ(after.size(), 3u);
    EXPECT_EQ(after[2].type, "link.deleted");
    EXPECT_EQ(after[2].signature, linkd::webhook_signature("s3cret", after[2].timestamp, after[2].body));
    // The receiver records a delivery before linkd has read its answer: wait for linkd's count.
    keel::test::eventually([&] { return linkd_->webhooks().stats().delivered >= 2; }, std::chrono::seconds(5));
    EXPECT_EQ(linkd_->webhooks().stats().delivered, 2u);
}

class ApiPurge : public Api {
  protected:
    void configure(LinkdOptions& o) override {
        o.purge_interval = std::chrono::milliseconds(100);
        o.purge_after = std::chrono::seconds(30);
    }
};

TEST_P(ApiPurge, ExpiredLinksAreDeletedByThePeriodicJobOnceTheirGraceHasPassed) {
    std::string soon = linkd::format_time(now_.load() + 60);
    ASSERT_EQ(create(R"({"url":"https://example.com/e","slug":"ephemeral","expires_at":")" + soon + R"("})").status,
              201);
    ASSERT_EQ(create(R"({"url":"https://example.com/k","slug":"kept"})").status, 201);
    auto stored = [&](const char* slug) {
        auto found = linkd_->background().block_on([&] { return linkd_->repository().find_link(slug); });
        EXPECT_TRUE(found);
        return found && found->has_value();
    };
    now_ += 61;  // expired: answers 410, still stored within purge_after
    EXPECT_EQ(client_->call("GET", "/ephemeral").status, 410);
    EXPECT_TRUE(stored("ephemeral"));
    now_ += 30;  // past the grace: the next tick deletes it
    EXPECT_TRUE(keel::test::eventually([&] { return !stored("ephemeral"); }, std::chrono::seconds(5)));
    EXPECT_TRUE(stored("kept"));
    EXPECT_EQ(client_->call("GET", "/ephemeral").status, 404);
}

// POST /v1/links and /v1/keys with Idempotency-Key: a client's retry creates nothing twice.
TEST_P(Api, IdempotencyKeyMakesCreationsSafeToRetry) {
    auto with_key = [](std::string key) {
        return std::vector<std::pair<std::string, std::string>>{{"Idempotency-Key", key}};
    };
    const std::string body = R"({"url":"https://example.com/once"})";  // a generated slug: a rerun would differ
    auto first = client_->call("POST", "/v1/links", body, user_key_, with_key("\"order-7\""));
    ASSERT_EQ(first.status, 201) << first.body;
    EXPECT_EQ(first.header("Idempotent-Replayed"), std::nullopt);
    for (int i = 0; i < 2; ++i) {
        auto again = client_->call("POST", "/v1/links", body, user_key_, with_key("\"order-7\""));
        EXPECT_EQ(again.status, 201);
        EXPECT_EQ(again.body, first.body);
        EXPECT_EQ(again.header("Location"), first.header("Location"));
        EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    }
    auto page = parse<LinkPageOut>(client_->call("GET", "/v1/links", std::nullopt, user_key_));
    EXPECT_EQ(page.items.size(), 1u) << "a replay created a link";

    auto other = client_->call("POST", "/v1/links", R"({"url":"https://example.com/other"})", user_key_,
                               with_key("\"order-7\""));
    EXPECT_EQ(other.status, 422) << other.body;
    EXPECT_NE(other.body.find("Idempotency-Key"), std::string::npos) << other.body;
    EXPECT_EQ(client_->call("POST", "/v1/links", body, user_key_, with_key("\"\"")).status, 400);
    // Keys are per API key: another caller's "order-7" is its own.
    std::string second_user = new_key("second", false);
    auto theirs = client_->call("POST", "/v1/links", body, second_user, with_key("\"order-7\""));
    EXPECT_EQ(theirs.status, 201);
    EXPECT_NE(parse<LinkOut>(theirs).slug, parse<LinkOut>(first).slug);
    // A refused answer (a taken slug: 409) is kept too: the retry is told the same.
    const std::string taken =
        R"({"url":"https://example.com/t","slug":)" + std::string("\"") + parse<LinkOut>(first).slug + "\"}";
    EXPECT_EQ(client_->call("POST", "/v1/links", taken, user_key_, with_key("t1")).status, 409);
    auto refused = client_->call("POST", "/v1/links", taken, user_key_, with_key("t1"));
    EXPECT_EQ(refused.status, 409);
    EXPECT_EQ(refused.header("Idempotent-Replayed"), "true");

    // An admin creating a key: the retry gets the same key (its secret included), not a second one.
    const std::string key_body = R"({"name":"ci","admin":false})";
    auto made = client_->call("POST", "/v1/keys", key_body, admin_key_, with_key("k-ci"));
    ASSERT_EQ(made.status, 201) << made.body;
    auto remade = client_->call("POST", "/v1/keys", key_body, admin_key_, with_key("k-ci"));
    EXPECT_EQ(remade.status, 201);
    EXPECT_EQ(parse<KeyCreatedOut>(remade).key, parse<KeyCreatedOut>(made).key);
    EXPECT_EQ(remade.header("Idempotent-Replayed"), "true");
}

INSTANTIATE_TEST_SUITE_P(Backends, ApiPurge, ::testing::Values(Backend::sqlite, Backend::postgres),
                         linkd::test::backend_name);

INSTANTIATE_TEST_SUITE_P(Backends, ApiWebhooks, ::testing::Values(Backend::sqlite), linkd::test::backend_name);

}  // namespace
