// The smallest keel service, and the one bench/run measures.
#include <keel/keel.hpp>

int main(int argc, char** argv) {
    keel::App app(argc, argv, {.name = "hello"});
    keel::Router r;

    r.get("/plaintext", [](keel::Request&) { return keel::Response::text("Hello, World!"); });
    r.get("/json", [](keel::Request&) {  // serialized per request
        keel::Response res(200);
        res.content_type("application/json");
        res.body_buffer().append("{\"message\":");
        keel::http::append_json_string(res.body_buffer(), "Hello, World!");
        res.body_buffer().push_back('}');
        return res;
    });
    r.get("/users/{id:[0-9]+}", [](keel::Request& req) {
        keel::Response res(200);
        res.content_type("application/json");
        res.body_buffer().append("{\"id\":").append(req.param("id")).append(",\"name\":\"user\"}");
        return res;
    });

    app.handle(r.handler());
    return app.run();
}
