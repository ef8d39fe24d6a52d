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
    r.get("/hello/{name}", [](keel::Request& req) { return keel::Response::text("Hello, " + std::string(req.param("name"))); });
    r.post("/greetings", [](keel::Request& req) {
        auto in = keel::json::bind<Greeting>(req);  // 415 / 400 problem+json listing each bad field
        return in ? keel::json::response(*in, 201) : in.problem();
    });
    app.handle(r.handler());
    return app.run();
}
