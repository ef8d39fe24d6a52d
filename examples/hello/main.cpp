// The smallest keel service, and the one bench/run measures.
#include <keel/keel.hpp>

int main(int argc, char** argv) {
    keel::App app(argc, argv, {.name = "hello"});

    app.handle([](keel::Request& req) -> keel::Response {
        if (req.path() == "/plaintext") {
            return keel::Response::text("Hello, World!");
        }
        if (req.path() == "/json") {  // serialized per request
            keel::Response res(200);
            res.content_type("application/json");
            res.body_buffer().append("{\"message\":");
            keel::http::append_json_string(res.body_buffer(), "Hello, World!");
            res.body_buffer().push_back('}');
            return res;
        }
        return keel::problem(404, "no route for this path", req.path());
    });
    return app.run();
}
