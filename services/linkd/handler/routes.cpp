#include "handler/routes.hpp"

#include "handler/dto.hpp"

#include <keel/http/problem.hpp>
#include <keel/http/query.hpp>
#include <keel/json/bind.hpp>
#include <keel/json/writer.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>
#include <keel/ratelimit/middleware.hpp>

#include <charconv>
#include <cstdio>
#include <memory>

namespace linkd {
namespace {

using keel::http::Outcome;
using keel::http::Request;
using keel::http::Response;

using Config = std::shared_ptr<const RoutesConfig>;

// ---- errors -------------------------------------------------------------------------------

std::string trace_id(Request& req) {
    const keel::http::TraceContext* t = keel::mw::trace_of(req);
    return t ? t->trace_id_hex() : std::string();
}

Response problem_for(const ServiceError& e, Request& req, const RoutesConfig& cfg) {
    switch (e.fault) {
    case Fault::invalid:
        if (!e.fields.empty()) {
            return keel::json::to_problem(e.fields, req.path(), e.detail, 400);
        }
        return keel::http::problem(400, e.detail, req.path());
    case Fault::unauthenticated: {
        Response r = keel::http::problem(401, e.detail, req.path());
        r.header("WWW-Authenticate", "Bearer realm=\"linkd\"");
        return r;
    }
    case Fault::forbidden:
        return keel::http::problem(403, e.detail, req.path());
    case Fault::not_found:
        return keel::http::problem(404, e.detail, req.path());
    case Fault::gone:
        return keel::http::problem(410, e.detail, req.path());
    case Fault::conflict:
        return keel::http::problem(409, e.detail, req.path());
    case Fault::unavailable: {
        if (cfg.logger) {
            cfg.logger->warn("dependency unavailable", {{"error", e.detail},
                                                        {"path", req.path()},
                                                        {"request_id", keel::mw::request_id_of(req)},
                                                        {"trace_id", trace_id(req)}});
        }
        Response r = keel::http::problem(503, "the database is unavailable or busy; retry shortly", req.path());
        r.header("Retry-After", "1");
        return r;
    }
    case Fault::internal:
        break;
    }
    if (cfg.logger) {
        cfg.logger->error("request failed", {{"error", e.detail},
                                             {"path", req.path()},
                                             {"request_id", keel::mw::request_id_of(req)},
                                             {"trace_id", trace_id(req)}});
    }
    return keel::http::problem(500, "internal error", req.path());
}

const Principal& caller(Request& req) { return *req.context().get<Principal>(); }

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
        std::string_view tag = header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
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

keel::router::Middleware authenticate(Config cfg) {
    return [cfg](keel::http::Handler next) -> keel::http::Handler {
        return [cfg, next = std::move(next)](Request& req) -> keel::Task<Response> {
            auto who = co_await cfg->keys.authenticate(req.header("Authorization"));
            if (!who) {
                co_return problem_for(who.error(), req, *cfg);
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

keel::Task<Response> follow_uncached(Config cfg, Request& req) {
    auto r = co_await cfg->links.follow_uncached(std::string(req.param("slug")));
    if (!r) {
        co_return problem_for(r.error(), req, *cfg);
    }
    co_return redirect_to(*r, *cfg);
}

keel::Task<Response> create_link(Config cfg, Request& req) {
    auto in = keel::json::bind<CreateLinkInput>(req);
    if (!in) {
        co_return in.problem();
    }
    auto link = co_await cfg->links.create(caller(req), std::move(in.value()));
    if (!link) {
        co_return problem_for(link.error(), req, *cfg);
    }
    Response res = keel::json::response(to_out(*link, base_url(*cfg, req)), 201);
    res.header("Location", "/v1/links/" + link->slug);
    co_return res;
}

keel::Task<Response> get_link(Config cfg, Request& req) {
    auto link = co_await cfg->links.get(caller(req), std::string(req.param("slug")));
    if (!link) {
        co_return problem_for(link.error(), req, *cfg);
    }
    Response res = keel::json::response(to_out(*link, base_url(*cfg, req)));
    std::string etag = etag_of(res.body_view());
    std::string last_modified = format_http_date(link->modified_at);
    // RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it.
    bool not_modified = false;
    if (auto inm = req.header("If-None-Match")) {
        not_modified = none_match(*inm, etag);
    } else if (auto ims = req.header("If-Modified-Since")) {
        auto since = parse_http_date(*ims);
        not_modified = since && link->modified_at <= *since;
    }
    Response& out = not_modified ? (res = Response(304)) : res;
    out.header("ETag", etag);
    out.header("Last-Modified", last_modified);
    if (!cfg->read_cache_control.empty()) {
        out.header("Cache-Control", cfg->read_cache_control);
    }
    co_return std::move(out);
}

keel::Task<Response> update_link(Config cfg, Request& req) {
    auto in = keel::json::bind<UpdateLinkInput>(req);
    if (!in) {
        co_return in.problem();
    }
    auto link = co_await cfg->links.update(caller(req), std::string(req.param("slug")), std::move(in.value()));
    if (!link) {
        co_return problem_for(link.error(), req, *cfg);
    }
    co_return keel::json::response(to_out(*link, base_url(*cfg, req)));
}

keel::Task<Response> delete_link(Config cfg, Request& req) {
    auto done = co_await cfg->links.remove(caller(req), std::string(req.param("slug")));
    if (!done) {
        co_return problem_for(done.error(), req, *cfg);
    }
    co_return Response(204);
}

keel::Task<Response> list_links(Config cfg, Request& req) {
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
        co_return keel::json::to_problem(errors, req.path(), "the query parameters failed validation", 400);
    }
    auto page = co_await cfg->links.list(caller(req), limit, std::move(cursor));
    if (!page) {
        co_return problem_for(page.error(), req, *cfg);
    }
    LinkPageOut out;
    std::string base = base_url(*cfg, req);
    for (const Link& l : page->items) {
        out.items.push_back(to_out(l, base));
    }
    out.next_cursor = page->next_cursor;
    co_return keel::json::response(out);
}

keel::Task<Response> link_stats(Config cfg, Request& req) {
    auto s = co_await cfg->links.stats(caller(req), std::string(req.param("slug")));
    if (!s) {
        co_return problem_for(s.error(), req, *cfg);
    }
    LinkStatsOut out{s->slug, s->total_clicks, {}};
    for (const DayClicks& d : s->days) {
        out.days.push_back({format_day(d.day), d.clicks});
    }
    co_return keel::json::response(out);
}

keel::Task<Response> create_key(Config cfg, Request& req) {
    auto in = keel::json::bind<CreateKeyInput>(req);
    if (!in) {
        co_return in.problem();
    }
    auto made = co_await cfg->keys.create(caller(req), std::move(in->name), in->admin.value_or(false));
    if (!made) {
        co_return problem_for(made.error(), req, *cfg);
    }
    Response res = keel::json::response(to_out(*made), 201);
    res.header("Location", "/v1/keys/" + std::to_string(made->key.id));
    res.header("Cache-Control", "no-store");  // it holds a secret
    co_return res;
}

keel::Task<Response> revoke_key(Config cfg, Request& req) {
    std::string_view text = req.param("id");
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
        co_return keel::http::problem(404, "no API key with id \"" + std::string(text) + "\"", req.path());
    }
    auto done = co_await cfg->keys.revoke(caller(req), id);
    if (!done) {
        co_return problem_for(done.error(), req, *cfg);
    }
    co_return Response(204);
}

keel::Task<Response> readyz(Config cfg, Request& req) {
    if (!cfg->accepting()) {
        Response r = keel::http::problem(503, "shutting down", req.path());
        r.header("Retry-After", "1");
        co_return r;
    }
    auto ping = co_await cfg->repo.ping();
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
    r.get("/healthz", [](Request&) { return Response::json(R"({"status":"ok"})"); });
    r.get("/readyz", [cfg](Request& req) { return readyz(cfg, req); });
    r.get("/openapi.json", [cfg](Request&) {
        Response res = Response::json({});
        res.static_body(cfg->openapi_json);
        return res;
    });
    // Rate limits: creation per API key (after authentication), redirects per client IP.
    std::vector<keel::router::Middleware> per_key, per_ip;
    if (cfg->create_limiter) {
        per_key.push_back(keel::ratelimit::rate_limit(cfg->create_limiter, [](Request& req) {
            return "key:" + std::to_string(caller(req).key_id);
        }));
    }
    if (cfg->redirect_limiter) {
        per_ip.push_back(keel::ratelimit::rate_limit(cfg->redirect_limiter, keel::ratelimit::client_ip_key));
    }
    r.group("/v1", [&](keel::router::Router& v1) {
        v1.use(authenticate(cfg));
        v1.with(per_key).post("/links", [cfg](Request& req) { return create_link(cfg, req); });
        v1.get("/links", [cfg](Request& req) { return list_links(cfg, req); });
        v1.get("/links/{slug}", [cfg](Request& req) { return get_link(cfg, req); });
        v1.patch("/links/{slug}", [cfg](Request& req) { return update_link(cfg, req); });
        v1.del("/links/{slug}", [cfg](Request& req) { return delete_link(cfg, req); });
        v1.get("/links/{slug}/stats", [cfg](Request& req) { return link_stats(cfg, req); });
        v1.post("/keys", [cfg](Request& req) { return create_key(cfg, req); });
        v1.del("/keys/{id}", [cfg](Request& req) { return revoke_key(cfg, req); });
    });
    // The hot path: answered without a coroutine when the cache knows the slug.
    r.with(per_ip).get("/{slug}", [cfg](Request& req) -> Outcome {
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
            return follow_uncached(cfg, req);
        }
        return failed ? problem_for(*failed, req, *cfg) : std::move(*redirect);
    });
}

}  // namespace linkd
