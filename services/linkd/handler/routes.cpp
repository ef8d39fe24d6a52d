#include "handler/routes.hpp"

#include "handler/dto.hpp"

#include <keel/http/date.hpp>
#include <keel/http/json.hpp>
#include <keel/http/problem.hpp>
#include <keel/http/query.hpp>
#include <keel/json/writer.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>
#include <keel/ratelimit/middleware.hpp>
#include <keel/web/api_docs.hpp>

#include <charconv>
#include <cstdio>
#include <memory>

namespace linkd {
namespace {

using keel::http::Outcome;
using keel::http::Problem;
using keel::http::ProblemOr;
using keel::http::Request;
using keel::http::Response;

using Config = std::shared_ptr<const RoutesConfig>;

// ---- errors -------------------------------------------------------------------------------

std::string trace_id(Request& req) {
    const keel::http::TraceContext* t = keel::mw::trace_of(req);
    return t ? t->trace_id_hex() : std::string();
}

// What work done later for this request (a webhook's job) carries to name its trace.
std::string traceparent(Request& req) {
    const keel::http::TraceContext* t = keel::mw::trace_of(req);
    return t ? t->traceparent() : std::string();
}

/// The problem a ServiceError is answered with: a Fault becomes a status; the causes of 503
/// and 500 are logged (with the request's ids), never sent.
Problem problem_of(const ServiceError& e, Request& req, const RoutesConfig& cfg) {
    Problem p{.status = 500, .detail = e.detail};
    switch (e.fault) {
        case Fault::invalid:
            p.status = 400;
            p.errors = e.fields;
            return p;
        case Fault::unauthenticated:
            p.status = 401;
            p.headers = {{"WWW-Authenticate", "Bearer realm=\"linkd\""}};
            return p;
        case Fault::forbidden:
            p.status = 403;
            return p;
        case Fault::not_found:
            p.status = 404;
            return p;
        case Fault::gone:
            p.status = 410;
            return p;
        case Fault::conflict:
            p.status = 409;
            return p;
        case Fault::unavailable:
            if (cfg.logger) {
                cfg.logger->warn("dependency unavailable", {{"error", e.detail},
                                                            {"path", req.path()},
                                                            {"request_id", keel::mw::request_id_of(req)},
                                                            {"trace_id", trace_id(req)}});
            }
            return Problem{.status = 503,
                           .detail = "the database is unavailable or busy; retry shortly",
                           .headers = {{"Retry-After", "1"}}};
        case Fault::internal:
            break;
    }
    if (cfg.logger) {
        cfg.logger->error("request failed", {{"error", e.detail},
                                             {"path", req.path()},
                                             {"request_id", keel::mw::request_id_of(req)},
                                             {"trace_id", trace_id(req)}});
    }
    return Problem{.status = 500, .detail = "internal error"};
}

/// A service's answer with its error turned into the Problem to return, for KEEL_CO_TRY.
template <class T>
keel::Result<T, Problem> answer(ServiceResult<T> r, Request& req, const RoutesConfig& cfg) {
    if (!r) {
        return problem_of(r.error(), req, cfg);
    }
    if constexpr (std::is_void_v<T>) {
        return {};
    } else {
        return std::move(*r);
    }
}

const Principal& caller(Request& req) {
    return *req.context().get<Principal>();
}

std::string base_url(const RoutesConfig& cfg, Request& req) {
    if (!cfg.base_url.empty()) {
        return cfg.base_url;
    }
    return "http://" + std::string(req.host().empty() ? "localhost" : req.host());
}

// ---- ETag ---------------------------------------------------------------------------------

std::string etag_of(std::string_view body) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a: cheap, and the body is small
    for (unsigned char c : body) {
        h = (h ^ c) * 1099511628211ull;
    }
    char buf[24];
    std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
    return buf;
}

/// If-None-Match: "*" or a list of (possibly weak) tags, compared weakly (RFC 9110 13.1.2).
bool none_match(std::string_view header, std::string_view etag) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        std::size_t comma = header.find(',', pos);
        std::string_view tag =
            header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) {
            tag.remove_prefix(1);
        }
        while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) {
            tag.remove_suffix(1);
        }
        if (tag == "*") {
            return true;
        }
        if (tag.substr(0, 2) == "W/") {
            tag.remove_prefix(2);
        }
        if (tag == etag) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        pos = comma + 1;
    }
    return false;
}

// ---- handlers -----------------------------------------------------------------------------

keel::http::Middleware authenticate(Config cfg) {
    return [cfg](keel::http::Handler next) -> keel::http::Handler {
        return [cfg, next = std::move(next)](Request& req) -> keel::Task<Response> {
            auto who = co_await cfg->keys.authenticate(req.header("Authorization"));
            if (!who) {
                co_return keel::http::respond(problem_of(who.error(), req, *cfg), req);
            }
            req.context().set<Principal>(std::move(*who));
            co_return co_await next(req);
        };
    };
}

Response redirect_to(const Redirect& r, const RoutesConfig& cfg) {
    Response res(r.link->permanent ? 301 : 302);
    res.header("Location", r.link->url);
    if (!cfg.redirect_cache_control.empty()) {
        res.header("Cache-Control", cfg.redirect_cache_control);
    }
    return res;
}

keel::Task<ProblemOr> follow_uncached(Config cfg, Request& req) {
    KEEL_CO_TRY(r, answer(co_await cfg->links.follow_uncached(std::string(req.param("slug"))), req, *cfg));
    co_return redirect_to(r, *cfg);
}

keel::Task<ProblemOr> create_link(Config cfg, Request& req) {
    KEEL_CO_TRY(in, keel::http::bind<CreateLinkInput>(req));
    KEEL_CO_TRY(link, answer(co_await cfg->links.create(caller(req), std::move(in), traceparent(req)), req, *cfg));
    Response res = keel::http::json_response(to_out(link, base_url(*cfg, req)), 201);
    res.header("Location", "/v1/links/" + link.slug);
    co_return res;
}

keel::Task<ProblemOr> get_link(Config cfg, Request& req) {
    KEEL_CO_TRY(link, answer(co_await cfg->links.get(caller(req), std::string(req.param("slug"))), req, *cfg));
    Response res = keel::http::json_response(to_out(link, base_url(*cfg, req)));
    std::string etag = etag_of(res.body_view());
    std::string last_modified = keel::http::format_http_date(link.modified_at);
    // RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it.
    bool not_modified = false;
    if (auto inm = req.header("If-None-Match")) {
        not_modified = none_match(*inm, etag);
    } else if (auto ims = req.header("If-Modified-Since")) {
        auto since = keel::http::parse_http_date(*ims);
        not_modified = since && link.modified_at <= *since;
    }
    Response& out = not_modified ? (res = Response(304)) : res;
    out.header("ETag", etag);
    out.header("Last-Modified", last_modified);
    if (!cfg->read_cache_control.empty()) {
        out.header("Cache-Control", cfg->read_cache_control);
    }
    co_return std::move(out);
}

keel::Task<ProblemOr> update_link(Config cfg, Request& req) {
    KEEL_CO_TRY(in, keel::http::bind<UpdateLinkInput>(req));
    KEEL_CO_TRY(link, answer(co_await cfg->links.update(caller(req), std::string(req.param("slug")), std::move(in)),
                             req, *cfg));
    co_return keel::http::json_response(to_out(link, base_url(*cfg, req)));
}

keel::Task<ProblemOr> delete_link(Config cfg, Request& req) {
    KEEL_CO_TRY_VOID(
        answer(co_await cfg->links.remove(caller(req), std::string(req.param("slug")), traceparent(req)), req, *cfg));
    co_return Response(204);
}

keel::Task<ProblemOr> list_links(Config cfg, Request& req) {
    keel::json::Errors errors;
    std::optional<int> limit;
    if (auto text = keel::http::query_scalar(req.query(), "limit"); !text) {
        errors.push_back({"/limit", std::string(text.error().message())});
    } else if (*text) {
        const std::string& t = **text;
        int v = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
            errors.push_back({"/limit", "must be an integer from 1 to 100"});
        } else {
            limit = v;
        }
    }
    std::optional<std::string> cursor;
    if (auto text = keel::http::query_scalar(req.query(), "cursor"); !text) {
        errors.push_back({"/cursor", std::string(text.error().message())});
    } else {
        cursor = std::move(*text);
    }
    if (!errors.empty()) {
        co_return keel::http::validation_problem(std::move(errors), "the query parameters failed validation");
    }
    KEEL_CO_TRY(page, answer(co_await cfg->links.list(caller(req), limit, std::move(cursor)), req, *cfg));
    LinkPageOut out;
    std::string base = base_url(*cfg, req);
    for (const Link& l : page.items) {
        out.items.push_back(to_out(l, base));
    }
    out.next_cursor = page.next_cursor;
    co_return keel::http::json_response(out);
}

keel::Task<ProblemOr> link_stats(Config cfg, Request& req) {
    KEEL_CO_TRY(s, answer(co_await cfg->links.stats(caller(req), std::string(req.param("slug"))), req, *cfg));
    LinkStatsOut out{s.slug, s.total_clicks, {}};
    for (const DayClicks& d : s.days) {
        out.days.push_back({format_day(d.day), d.clicks});
    }
    co_return keel::http::json_response(out);
}

keel::Task<ProblemOr> create_key(Config cfg, Request& req) {
    KEEL_CO_TRY(in, keel::http::bind<CreateKeyInput>(req));
    KEEL_CO_TRY(
        made, answer(co_await cfg->keys.create(caller(req), std::move(in.name), in.admin.value_or(false)), req, *cfg));
    Response res = keel::http::json_response(to_out(made), 201);
    res.header("Location", "/v1/keys/" + std::to_string(made.key.id));
    res.header("Cache-Control", "no-store");  // it holds a secret
    co_return res;
}

keel::Task<ProblemOr> revoke_key(Config cfg, Request& req) {
    std::string_view text = req.param("id");
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
        co_return Problem{.status = 404, .detail = "no API key with id \"" + std::string(text) + "\""};
    }
    KEEL_CO_TRY_VOID(answer(co_await cfg->keys.revoke(caller(req), id), req, *cfg));
    co_return Response(204);
}

keel::Task<Response> readyz(Config cfg, Request& req) {
    if (!cfg->accepting()) {
        Response r = keel::http::problem(503, "shutting down", req.path());
        r.header("Retry-After", "1");
        co_return r;
    }
    auto ping = co_await cfg->database_ping();
    if (!ping) {
        if (cfg->logger) {
            cfg->logger->warn("readiness: database unreachable", {{"error", ping.error().message()}});
        }
        Response r = keel::http::problem(503, "the database is unreachable", req.path());
        r.header("Retry-After", "1");
        co_return r;
    }
    co_return Response::json(R"({"status":"ready","checks":{"database":"ok"}})");
}

}  // namespace

void add_routes(keel::router::Router& r, const RoutesConfig& config) {
    Config cfg = std::make_shared<const RoutesConfig>(config);
    using keel::router::json;
    using keel::router::problem;
    // Health answers are small JSON objects written by hand: their schema is written by hand too.
    keel::router::ResponseDoc health{
        .description = "the service's state", .schema = [](keel::json::SchemaSet&) {
            return std::string(
                R"({"type":"object","required":["status"],"properties":{"status":{"type":"string",)"
                R"("enum":["ok","ready"]},"checks":{"type":"object","additionalProperties":{"type":"string"}}}})");
        }};
    auto unavailable = problem("the database is unreachable (Retry-After)");
    r.get("/healthz", [](Request&) {
         return Response::json(R"({"status":"ok"})");
     }).doc({.summary = "Liveness", .tags = {"health"}, .operation_id = "healthz", .responses = {{200, health}}});
    r.get("/readyz", [cfg](Request& req) { return readyz(cfg, req); })
        .doc({.summary = "Readiness",
              .tags = {"health"},
              .operation_id = "readyz",
              .responses = {{200, health}, {503, unavailable}}});
    r.get("/openapi.json",
          [cfg](Request&) {
              Response res = Response::json({});
              res.static_body(cfg->openapi_json);
              return res;
          })
        .doc({.summary = "This contract, as JSON",
              .tags = {"health"},
              .operation_id = "openapi",
              .responses = {{200, {.description = "OpenAPI 3.1", .schema = [](keel::json::SchemaSet&) {
                                       return std::string(R"({"type":"object"})");
                                   }}}}});
    if (keel::web::api_docs_assets_present(cfg->docs_assets_dir)) {
        keel::web::ApiDocsOptions docs{.assets_dir = cfg->docs_assets_dir, .title = "linkd API"};
        r.get("/docs", keel::web::api_docs_page(docs));
        r.get("/docs/{file...}", keel::web::api_docs_assets(docs));
    } else if (!cfg->docs_assets_dir.empty() && cfg->logger) {
        cfg->logger->warn("no /docs page: Swagger UI's files are missing (run scripts/bootstrap)",
                          {{"docs.assets_dir", cfg->docs_assets_dir}});
    }
    // Rate limits: creation per API key (after authentication), redirects per client IP.
    std::vector<keel::http::Middleware> per_key, per_ip;
    if (cfg->create_limiter) {
        per_key.push_back(keel::ratelimit::rate_limit(
            cfg->create_limiter, [](Request& req) { return "key:" + std::to_string(caller(req).key_id); }));
    }
    if (cfg->redirect_limiter) {
        per_ip.push_back(keel::ratelimit::rate_limit(cfg->redirect_limiter, keel::ratelimit::client_ip_key));
    }
    // Creations replay their first answer to a repeated Idempotency-Key (inside the rate limit:
    // a 429 is not stored).
    std::vector<keel::http::Middleware> once;
    if (cfg->idempotency) {
        once.push_back(cfg->idempotency);
        per_key.push_back(cfg->idempotency);
    }
    std::vector<keel::router::HeaderParam> idempotency_key = {
        {.name = "Idempotency-Key",
         .description = "Makes a retry safe: a repeat with the same key and body gets the first answer again "
                        "(Idempotent-Replayed: true) and creates nothing; the key with another body is 422, a repeat "
                        "while the first runs is 409. Kept 24 h (idempotency.ttl), per API key."}};
    auto reused_key = problem("the Idempotency-Key was used for another request");
    r.group("/v1", [&](keel::router::Router& v1) {
        v1.use(authenticate(cfg));
        // What each route takes and answers: tests/linkd compares it with openapi.yaml.
        auto bad_request = problem("invalid input (every bad field named)");
        auto unauthorized = problem("no valid API key");
        auto forbidden = problem("an admin key is needed");
        auto not_found = problem("no such link (or another key's)");
        auto not_json = problem("the body is not JSON");
        std::vector<std::string> api_key = {"apiKey"};
        v1.with(per_key)
            .post("/links", [cfg](Request& req) { return create_link(cfg, req); })
            .doc({.summary = "Create a short link",
                  .tags = {"links"},
                  .operation_id = "createLink",
                  .request = keel::router::body<CreateLinkInput>(),
                  .headers = idempotency_key,
                  .responses = {{201, json<LinkOut>("the link (Location: its URL)")},
                                {400, bad_request},
                                {401, unauthorized},
                                {409, problem("the slug is taken, or this Idempotency-Key's first request still runs")},
                                {413, problem("the body is too large")},
                                {415, not_json},
                                {422, reused_key},
                                {429, problem("the key's creation limit (Retry-After)")},
                                {503, unavailable}},
                  .security = api_key});
        v1.get("/links", [cfg](Request& req) { return list_links(cfg, req); })
            .doc({.summary = "List the caller's links, newest first",
                  .tags = {"links"},
                  .operation_id = "listLinks",
                  .query = keel::router::query<ListLinksQuery>(),
                  .responses = {{200, json<LinkPageOut>("a page of links")},
                                {400, bad_request},
                                {401, unauthorized},
                                {503, unavailable}},
                  .security = api_key});
        v1.get("/links/{slug}", [cfg](Request& req) { return get_link(cfg, req); })
            .doc({.summary = "Read a link",
                  .tags = {"links"},
                  .operation_id = "getLink",
                  .headers = {{.name = "If-None-Match",
                               .description = "an ETag from an earlier read: 304 when unchanged"},
                              {.name = "If-Modified-Since",
                               .description = "a Last-Modified from an earlier read: 304 when unchanged"}},
                  .responses = {{200, json<LinkOut>("the link (ETag, Last-Modified)")},
                                {304, {.description = "not modified"}},
                                {401, unauthorized},
                                {404, not_found},
                                {503, unavailable}},
                  .security = api_key});
        v1.patch("/links/{slug}", [cfg](Request& req) { return update_link(cfg, req); })
            .doc({.summary = "Change a link's target, expiry or permanence",
                  .tags = {"links"},
                  .operation_id = "updateLink",
                  .request = keel::router::body<UpdateLinkInput>(),
                  .responses = {{200, json<LinkOut>("the changed link")},
                                {400, bad_request},
                                {401, unauthorized},
                                {404, not_found},
                                {415, not_json},
                                {503, unavailable}},
                  .security = api_key});
        v1.del("/links/{slug}", [cfg](Request& req) { return delete_link(cfg, req); })
            .doc({.summary = "Delete a link",
                  .tags = {"links"},
                  .operation_id = "deleteLink",
                  .responses =
                      {{204, {.description = "deleted"}}, {401, unauthorized}, {404, not_found}, {503, unavailable}},
                  .security = api_key});
        v1.get("/links/{slug}/stats", [cfg](Request& req) { return link_stats(cfg, req); })
            .doc({.summary = "Clicks in total and per day for the last 30 days",
                  .tags = {"links"},
                  .operation_id = "getLinkStats",
                  .responses = {{200, json<LinkStatsOut>("the statistics")},
                                {401, unauthorized},
                                {404, not_found},
                                {503, unavailable}},
                  .security = api_key});
        v1.with(once)
            .post("/keys", [cfg](Request& req) { return create_key(cfg, req); })
            .doc({.summary = "Create an API key (admin only)",
                  .tags = {"keys"},
                  .operation_id = "createKey",
                  .request = keel::router::body<CreateKeyInput>(),
                  .headers = idempotency_key,
                  .responses = {{201, json<KeyCreatedOut>("the key, with its secret shown once")},
                                {400, bad_request},
                                {401, unauthorized},
                                {403, forbidden},
                                {409, problem("this Idempotency-Key's first request still runs")},
                                {415, not_json},
                                {422, reused_key},
                                {503, unavailable}},
                  .security = api_key});
        v1.del("/keys/{id}", [cfg](Request& req) { return revoke_key(cfg, req); })
            .doc({.summary = "Revoke an API key (admin only)",
                  .tags = {"keys"},
                  .operation_id = "revokeKey",
                  .responses = {{204, {.description = "revoked"}},
                                {401, unauthorized},
                                {403, forbidden},
                                {404, problem("no such key")},
                                {503, unavailable}},
                  .security = api_key});
    });
    // The hot path: answered without a coroutine when the cache knows the slug.
    r.with(per_ip)
        .get("/{slug}",
             [cfg](Request& req) -> Outcome {
                 std::optional<Response> redirect;
                 std::optional<ServiceError> failed;
                 bool known = cfg->links.follow_cached(req.param("slug"), [&](const ServiceResult<Redirect>& r) {
                     if (r) {
                         redirect.emplace(redirect_to(*r, *cfg));  // (copies the URL out of the cache entry)
                     } else {
                         failed = r.error();
                     }
                 });
                 if (!known) {
                     return keel::http::respond(follow_uncached(cfg, req), req);
                 }
                 return failed ? keel::http::respond(problem_of(*failed, req, *cfg), req) : std::move(*redirect);
             })
        .doc({.summary = "Redirect to the link's URL",
              .tags = {"redirect"},
              .operation_id = "followLink",
              .responses = {{301, {.description = "a permanent link"}},
                            {302, {.description = "the link's URL (Location)"}},
                            {404, problem("no such link")},
                            {410, problem("the link expired")},
                            {429, problem("the client's redirect limit (Retry-After)")},
                            {503, unavailable}}});
}

}  // namespace linkd
