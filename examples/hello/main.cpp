// examples/hello: what bench/run measures (no middleware, like the Go peers it is compared with).
//   GET /plaintext, GET /json, GET /users/{id}, POST /echo (JSON bound and validated),
//   GET /events (Server-Sent Events), POST /upload (a streamed body of any size, counted),
//   POST /form (a urlencoded or multipart form answered as JSON), GET /static/... (the files
//   under examples/hello/static, or --hello.static_dir), GET /visits (a count kept in a signed
//   cookie), GET /ws/echo (a WebSocket that answers each message with itself) and GET /ws/chat
//   (a WebSocket room: every message goes to everyone in it); GET /openapi.json (derived from
//   the routes' doc()) and GET /docs (a page to read it)
// --hello.metrics / --hello.access_log switch on the request metrics and the JSON access log,
// so that bench/run can measure what they cost.
#include <keel/keel.hpp>
#include <keel/openapi/openapi.hpp>
#include <keel/web/api_docs.hpp>

#include <random>
#include <regex>

struct EchoRequest {
    std::string message;
    std::optional<std::int32_t> repeat;
};
KEEL_JSON(EchoRequest, message, repeat)

// What the other routes answer, declared for their OpenAPI description (GET /openapi.json).
struct Greeting {
    std::string message;
};
KEEL_JSON(Greeting, message)
struct User {
    std::int64_t id = 0;
    std::string name;
};
KEEL_JSON(User, id, name)
struct Visits {
    std::int64_t visits = 0;
};
KEEL_JSON(Visits, visits)
struct Uploaded {
    std::uint64_t bytes = 0;
};
KEEL_JSON(Uploaded, bytes)

void keel_validate(const EchoRequest& in, keel::json::Validator& v) {
    v.length("/message", in.message, 1, 280);
    if (in.repeat) {
        v.range("/repeat", *in.repeat, 1, 10);
    }
}

int main(int argc, char** argv) {
    keel::App app(argc, argv, {.name = "hello", .define = [](keel::config::Config& c) {
                                   c.define_bool("hello.metrics", false, "count requests (keel_http_* metrics)");
                                   c.define_bool("hello.access_log", false, "log one JSON line per request");
                                   c.define_string("hello.static_dir", HELLO_STATIC_DIR,
                                                   "the files served under /static/");
                                   c.define_string("hello.docs_assets_dir", HELLO_DOCS_ASSETS,
                                                   "npm's swagger-ui-dist, for the /docs page (empty: no page)");
                                   c.define_string("hello.cookie_key", "",
                                                   "key signing the /visits cookie (≥ 32 bytes; "
                                                   "empty: a random one per start)",
                                                   {}, true);
                               }});
    keel::Router r;
    if (app.config().get_bool("hello.metrics")) {
        r.use(app.http_metrics());
    }
    if (app.config().get_bool("hello.access_log")) {
        r.use(app.access_log());
    }

    r.get("/plaintext", [](keel::Request&) { return keel::Response::text("Hello, World!"); })
        .doc({.summary = "Hello, World! as text/plain",
              .tags = {"bench"},
              .responses = {{200, {.description = "the greeting", .content_type = "text/plain"}}}});
    r.get("/json",
          [](keel::Request&) {  // serialized per request
              keel::Response res(200);
              res.content_type("application/json");
              keel::json::Writer(res.body_buffer()).begin_object().key("message").value("Hello, World!").end_object();
              return res;
          })
        .doc({.summary = "Hello, World! as JSON",
              .tags = {"bench"},
              .responses = {{200, keel::router::json<Greeting>("the greeting")}}});
    r.get("/users/{id:[0-9]+}", [](keel::Request& req) {
         keel::Response res(200);
         res.content_type("application/json");
         keel::json::Writer(res.body_buffer())
             .begin_object()
             .key("id")
             .raw(req.param("id"))
             .key("name")
             .value("user")
             .end_object();
         return res;
     }).doc({.summary = "A user by id", .tags = {"bench"}, .responses = {{200, keel::router::json<User>("the user")}}});
    r.post("/echo",
           [](keel::Request& req) -> keel::ProblemOr {
               KEEL_TRY(in, keel::bind<EchoRequest>(req));
               std::string repeated;
               for (int i = 0; i < in.repeat.value_or(1); ++i) {
                   repeated += in.message;
               }
               return keel::json_response(EchoRequest{repeated, in.repeat}, 200);
           })
        .doc({.summary = "The message, repeated",
              .tags = {"bench"},
              .request = keel::router::body<EchoRequest>(),
              .responses = {{200, keel::router::json<EchoRequest>("the message repeated `repeat` times")},
                            {400, keel::router::problem("the body is not a valid EchoRequest")},
                            {415, keel::router::problem("the body is not JSON")}}});
    // Server-Sent Events: one numbered event a second, resuming after Last-Event-ID.
    r.get("/events", [](keel::Request& req) {
        std::int64_t next = keel::web::last_event_id_number(req).value_or(0) + 1;
        return keel::web::sse([next](keel::web::SseWriter& out) mutable -> keel::Task<void> {
            for (;; ++next) {
                std::string id = std::to_string(next);
                if (!co_await out.send({.id = id, .data = "tick " + id}))
                    co_return;  // client gone
                if (!co_await out.wait(std::chrono::seconds(1)))
                    co_return;  // or shutdown
            }
        });
    });
    r.doc({.summary = "A numbered event a second (Server-Sent Events)",
           .tags = {"web"},
           .responses = {{200, {.description = "an endless event stream", .content_type = "text/event-stream"}}}});

    // A streamed body: read piece by piece as it arrives (server.max_body_bytes still applies).
    r.post("/upload",
           [](keel::Request& req) -> keel::Task<keel::ProblemOr> {
               std::uint64_t bytes = 0;
               for (;;) {
                   KEEL_CO_TRY(piece, co_await req.body_stream()->read());
                   if (piece.empty()) {
                       break;
                   }
                   bytes += piece.size();
               }
               keel::Response res(200);
               res.content_type("application/json");
               keel::json::Writer(res.body_buffer()).begin_object().key("bytes").value(bytes).end_object();
               co_return res;
           })
        .doc({.summary = "Counts a streamed body's bytes",
              .tags = {"web"},
              .responses = {{200, keel::router::json<Uploaded>("the body's size")},
                            {413, keel::router::problem("larger than server.max_body_bytes")}}});
    // A form, urlencoded or multipart (files over 256 KiB go to a temporary file as they arrive),
    // answered as JSON: its fields, and each file's sanitized name, type and size.
    r.post("/form",
           [](keel::Request& req) -> keel::Task<keel::ProblemOr> {
               KEEL_CO_TRY(form, co_await keel::web::read_form(req));
               keel::Response res(200);
               res.content_type("application/json");
               keel::json::Writer w(res.body_buffer());
               w.begin_object().key("fields").begin_object();
               for (const keel::web::FormField& f : form.fields) {
                   w.key(f.name).value(f.value);
               }
               w.end_object().key("files").begin_array();
               for (const keel::web::FormFile& f : form.files) {
                   w.begin_object().key("field").value(f.field).key("filename").value(f.filename);
                   w.key("content_type")
                       .value(f.content_type)
                       .key("size")
                       .value(f.size)
                       .key("on_disk")
                       .value(!f.in_memory());
                   w.end_object();
               }
               w.end_array().end_object();
               co_return res;
           })
        .doc({.summary = "A form's fields and files, as JSON",
              .tags = {"web"},
              .responses = {
                  {200,
                   {.description = "{\"fields\": {name: value}, \"files\": [{field, filename, content_type, size, "
                                   "on_disk}]}"}},
                  {400, keel::router::problem("a malformed form")},
                  {413, keel::router::problem("past a form limit (the field is named)")},
                  {415, keel::router::problem("not a form")}}});
    app.stream_bodies([](const keel::Request& req) { return req.path() == "/upload" || req.path() == "/form"; });

    // A signed cookie: the client keeps the count, and cannot change it.
    std::string key = app.config().get_string("hello.cookie_key");
    if (key.empty()) {
        std::random_device random;
        for (int i = 0; i < 32; ++i) {
            key += static_cast<char>(random());
        }
    }
    r.get("/visits",
          [signer = keel::web::CookieSigner({key})](keel::Request& req) {
              std::int64_t visits = 1;
              if (auto previous = signer.verify("visits", keel::web::cookie(req, "visits"))) {
                  visits += std::strtoll(previous->c_str(), nullptr, 10);
              }
              keel::Response res(200);
              res.content_type("application/json");
              keel::json::Writer(res.body_buffer()).begin_object().key("visits").value(visits).end_object();
              keel::web::set_cookie(res, {.name = "visits",
                                          .value = signer.sign("visits", std::to_string(visits)),
                                          .max_age = std::chrono::days(365)});
              return res;
          })
        .doc({.summary = "Counts your visits in a signed cookie",
              .tags = {"web"},
              .responses = {{200, keel::router::json<Visits>("this visit's number (and a Set-Cookie for the next)")}}});

    r.get("/ws/echo", [](keel::Request& req) {
        return keel::web::accept_websocket(req, [](keel::web::WebSocket& ws) -> keel::Task<void> {
            for (;;) {
                auto message = co_await ws.receive();
                if (!message)
                    co_return;  // closed: message.error() has the code and reason
                if (!co_await ws.send(*message))
                    co_return;
            }
        });
    });
    r.doc({.summary = "WebSocket: each message answered with itself",
           .tags = {"web"},
           .responses = {{101, {.description = "switched to WebSocket"}},
                         {426, keel::router::problem("not a WebSocket handshake")}}});
    auto room = std::make_shared<keel::web::Hub>();
    // The room's WebSockets that the server had to end (a member too slow to read, messages
    // inflating too fast, ...), counted in keel_websocket_server_closes_total.
    auto ws_stats = std::make_shared<keel::web::WebSocketStats>();
    app.metrics().add_collector(keel::web::WebSocketStats::collector(ws_stats));
    const keel::web::WebSocketOptions ws_options{.stats = ws_stats};
    r.get("/ws/chat", [room, ws_options](keel::Request& req) {
        return keel::web::accept_websocket(
            req,
            [room](keel::web::WebSocket& ws) -> keel::Task<void> {
                room->join(ws.share());
                while (auto message = co_await ws.receive()) {
                    room->broadcast(message->data);
                }
                room->leave(ws);
            },
            ws_options);
    });
    r.doc({.summary = "WebSocket: every message goes to everyone connected",
           .tags = {"web"},
           .responses = {{101, {.description = "switched to WebSocket"}},
                         {426, keel::router::problem("not a WebSocket handshake")}}});

    r.get("/static/{path...}",
          keel::web::static_files(app.config().get_string("hello.static_dir"),
                                  {.strip_prefix = "/static", .cache_control = "public, max-age=300"}));
    r.doc({.summary = "The files under hello.static_dir",
           .tags = {"web"},
           .responses = {{200, {.description = "the file", .content_type = "application/octet-stream"}},
                         {206, {.description = "the ranges asked for", .content_type = "application/octet-stream"}},
                         {304, {.description = "not modified"}},
                         {404, keel::router::problem("no such file")},
                         {416, keel::router::problem("the range is outside the file")}}});

    // The contract of the routes above, and a page to read it (Swagger UI from npm, when the
    // build installed it).
    keel::openapi::serve(
        r, {.title = "hello",
            .version = "1.0.0",
            .description = "keel's example service: what bench/run measures, and one of each web-toolkit piece."});
    std::string docs_assets = app.config().get_string("hello.docs_assets_dir");
    if (keel::web::api_docs_assets_present(docs_assets)) {
        keel::web::ApiDocsOptions docs{.assets_dir = docs_assets, .title = "hello API"};
        r.get("/docs", keel::web::api_docs_page(docs));
        r.get("/docs/{file...}", keel::web::api_docs_assets(docs));
    }

    app.handle(r.handler());
    return app.run();
}
