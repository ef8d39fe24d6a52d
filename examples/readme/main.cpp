// The README's example: a JSON API in 20 lines.
#include <keel/keel.hpp>

struct Greeting {
    std::string name;
};
KEEL_JSON(Greeting, name)

int main(int argc, char** argv) {
    keel::App app(argc, argv, {.name = "greeter"});
    keel::Router r;
    r.use(app.recoverer());
    r.get("/hello/{name}",
          [](keel::Request& req) { return keel::Response::text("Hello, " + std::string(req.param("name"))); });
    r.post("/greetings", [](keel::Request& req) -> keel::ProblemOr {
        KEEL_TRY(in, keel::bind<Greeting>(req));  // or 415 / 400 problem+json listing each bad field
        return keel::json_response(in, 201);
    });
    app.handle(r.handler());
    return app.run();
}
