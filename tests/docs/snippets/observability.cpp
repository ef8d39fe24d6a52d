// The C++ of docs/observability.md, in a context that compiles (see building_apis.cpp).
#include <keel/keel.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>

#include <deque>

namespace docs_observability {

struct Repo {
    keel::Task<keel::Result<void>> ping();
};

keel::Task<keel::Result<void>> ping_redis();

int main(int argc, char** argv, Repo& repo, std::deque<int>& queue) {
    keel::App app(argc, argv, {.name = "svc", .admin_listen = "127.0.0.1:9090"});
    keel::Router r;
    r.use(app.http_metrics());  // first: counts every answer, 404/500 included
    r.use(app.access_log());    // logs what was finally sent (request id included)
    r.use(app.recoverer());
    r.use(keel::mw::request_id());
    r.use(keel::mw::trace_context());                                 // traceparent in, trace id in every log line
    app.health().add_check("database", [&] { return repo.ping(); });  // Task<Result<void>>
    app.health().add_check("redis", ping_redis, keel::observe::Health::Need::optional);  // reported, never unready
    auto& created = app.metrics().counter("svc_orders_created_total", "Orders created.").get();
    app.vars().add("queue", [&](keel::json::Writer& w) { w.value(queue.size()); });
    created.inc();
    app.handle(r.handler());
    return app.run();
}

}  // namespace docs_observability
