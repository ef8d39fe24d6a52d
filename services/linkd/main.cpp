// linkd: wiring only. Configuration, logging, signals and graceful shutdown come from
// keel::App; the service itself is linkd::Linkd.
//
//     linkd [--config linkd.toml] [--db.url ...] [--server.port ...]     serve
//     linkd keys create [--admin] [--name NAME] [config flags]         create an API key, print it
#include "linkd.hpp"

#include <keel/app/app.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct KeysCommand {
    bool requested = false;
    bool admin = false;
    std::string name = "created by linkd keys create";
};

/// Takes `keys create [--admin] [--name N]` out of argv; the rest is configuration.
KeysCommand take_keys_command(int argc, char** argv, std::vector<const char*>& rest) {
    KeysCommand cmd;
    rest.push_back(argv[0]);
    int i = 1;
    if (argc >= 3 && std::strcmp(argv[1], "keys") == 0 && std::strcmp(argv[2], "create") == 0) {
        cmd.requested = true;
        i = 3;
    }
    for (; i < argc; ++i) {
        if (cmd.requested && std::strcmp(argv[i], "--admin") == 0) {
            cmd.admin = true;
        } else if (cmd.requested && std::strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            cmd.name = argv[++i];
        } else {
            rest.push_back(argv[i]);
        }
    }
    return cmd;
}

void print_key(const linkd::CreatedKey& k, const char* what) {
    std::printf("linkd: %s (id %lld) - shown once, store it now:\n\n    %s\n\n", what,
                static_cast<long long>(k.key.id), k.secret.c_str());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<const char*> args;
    KeysCommand keys_cmd = take_keys_command(argc, argv, args);
    keel::App app(static_cast<int>(args.size()), args.data(),
                  {.name = "linkd",
                   .env_prefix = "LINKD",
                   .define =
                       [](keel::config::Config& c) {
                           linkd::define_config(c);
                           c.define_bool("log.access", true, "log one JSON line per request");
                           c.define_bool("metrics.http", true, "count requests by route and status (/metrics)");
                       },
                   .admin_listen = "127.0.0.1:9090"});
    std::unique_ptr<linkd::Linkd> service;
    try {
        service = std::make_unique<linkd::Linkd>(linkd::options_from(app.config()), app.workers(), &app.logger());
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "linkd: config: %s\n", e.what());
        return 2;
    }

    if (keys_cmd.requested) {
        auto key = service->create_key(keys_cmd.name, keys_cmd.admin);
        if (!key) {
            std::fprintf(stderr, "linkd: keys create: %s\n", std::string(key.error().message()).c_str());
            return 1;
        }
        print_key(*key, keys_cmd.admin ? "created an admin API key" : "created an API key");
        return 0;
    }

    auto started = service->start();
    if (!started) {
        app.logger().error("cannot start", {{"error", started.error().message()}});
        app.logger().flush();
        return 1;
    }
    if (*started) {
        app.logger().warn("no admin key existed: created one and printed it on stdout (once)",
                          {{"key_id", (*started)->key.id}});
        print_key(**started, "created an admin API key at first start");
    }

    service->observe(app.metrics(), app.health(), app.vars());
    keel::router::Router r;
    if (app.config().get_bool("metrics.http")) {
        r.use(app.http_metrics());  // outermost: counts every answer, 404s and 500s included
    }
    if (app.config().get_bool("log.access")) {
        r.use(app.access_log());  // outside the rest: logs what was finally sent
    }
    r.use(app.recoverer());
    r.use(keel::mw::request_id());
    r.use(keel::mw::trace_context());
    service->add_routes(r, [&app] { return app.ready(); });
    app.handle(r.handler());
    app.on_shutdown([&service] { service->stop(); });  // after the server stopped: last flush
    return app.run();
}
