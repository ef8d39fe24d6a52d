// The web toolkit's documented code (keel/http/{cookie,signed_cookie,form,multipart,
// static_files}.hpp and docs/web.md), each in a context that compiles. Nothing here runs.
#include <keel/json/schema.hpp>
#include <keel/keel.hpp>
#include <keel/openapi/openapi.hpp>
#include <keel/web/api_docs.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace docs_web {

struct Config {
    std::string cookie_key;
};

keel::Response cookies(keel::Request& req) {
    auto theme = keel::web::cookie(req, "theme");  // optional<string_view>
    auto res = keel::Response::text("ok");
    keel::web::set_cookie(res, {.name = "theme", .value = "dark", .max_age = std::chrono::days(30)});
    (void)theme;
    return res;
}

keel::Response signed_cookies(keel::Request& req, const Config& config, const std::string& user_id) {
    keel::Response res(200);
    keel::web::CookieSigner signer({config.cookie_key});  // ≥ 32 bytes
    keel::web::set_cookie(res, {.name = "session", .value = signer.sign("session", user_id)});
    std::optional<std::string> user = signer.verify("session", keel::web::cookie(req, "session"));
    (void)user;
    return res;
}

struct ListQuery {
    std::optional<int> limit;
    std::optional<std::string> cursor;
    std::vector<std::string> tag;
};
KEEL_JSON(ListQuery, limit, cursor, tag)

keel::ProblemOr list(keel::Request& req) {
    KEEL_TRY(q, keel::web::bind_query<ListQuery>(req));  // ?limit=20&tag=a&tag=b
    return keel::Response::text(std::to_string(q.limit.value_or(20)));
}

struct UploadMeta {
    std::string album;
};
KEEL_JSON(UploadMeta, album)

keel::Task<keel::ProblemOr> upload(keel::Request& req) {
    KEEL_CO_TRY(form, co_await keel::web::read_form(req));
    KEEL_CO_TRY(meta, keel::web::bind_fields<UploadMeta>(form.fields));  // typed text fields
    std::uint64_t bytes = 0;
    for (const keel::web::FormFile& f : form.files) {
        bytes += f.size;  // f.filename is for display only; the bytes are f.data() or f.path()
    }
    co_return keel::Response::text(meta.album + ": " + std::to_string(bytes) + " bytes");
}

void static_routes(keel::Router& router) {
    router.get("/static/{path...}", keel::web::static_files("/srv/www", {.strip_prefix = "/static"}));
}

struct EchoRequest {
    std::string message;
};
KEEL_JSON(EchoRequest, message)
struct Signup {
    std::string email;
};
KEEL_JSON(Signup, email)

void openapi_routes(keel::Router& r, const keel::Handler& echo) {
    r.post("/echo", echo)
        .doc({.summary = "Echo a message",
              .tags = {"demo"},
              .request = keel::router::body<EchoRequest>(),
              .responses = {{200, keel::router::json<EchoRequest>("the echo")},
                            {400, keel::router::problem("invalid body")}}});
    keel::openapi::serve(r, {.title = "hello", .version = "1.0.0"});  // GET /openapi.json
}

std::string schemas_of_signup() {
    keel::json::SchemaSet schemas;
    std::string ref = schemas.of<Signup>();  // {"$ref":"#/components/schemas/Signup"}
    // schemas.components(): "Signup" → {"type":"object","properties":{...},"required":[...]}
    return ref + schemas.components().at("Signup");
}

void docs_routes(keel::Router& r, const std::string& swagger_ui_dist) {
    keel::web::ApiDocsOptions docs{.assets_dir = swagger_ui_dist, .spec_url = "/openapi.json"};
    r.get("/docs", keel::web::api_docs_page(docs));
    r.get("/docs/{file...}", keel::web::api_docs_assets(docs));
}

}  // namespace docs_web
