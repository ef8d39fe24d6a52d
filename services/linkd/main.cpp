// linkd: wiring only. Configuration, logging, signals and graceful shutdown come from
// keel::App; the service itself is linkd::Linkd.
//
//     linkd [--config linkd.toml] [--db.url ...] [--server.port ...]     serve
//     linkd keys create [--admin] [--name NAME] [config flags]         create an API key, print it
#include "linkd.hpp"

#include <keel/app/app.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

struct KeysCommand {
    bool requested = false;
    bool admin = false;
    std::string name = "created by linkd keys create";
};

/// `linkd keys create [--admin] [--name N]` with CLI11; everything it does not know (the
/// configuration flags, a top-level --help) is left for keel::App. Exits 2 on a malformed
/// command.
KeysCommand parse_command(int argc, char** argv, std::vector<std::string>& rest) {
    KeysCommand cmd;
    CLI::App cli{"linkd: the URL shortener", "linkd"};
    cli.set_help_flag();  // `linkd --help` lists the configuration keys (keel::App)
    cli.allow_extras();
    CLI::App* keys = cli.add_subcommand("keys", "manage API keys");
    keys->set_help_flag("-h,--help", "what `linkd keys` does");
    keys->require_subcommand(1);
    CLI::App* create = keys->add_subcommand("create", "create an API key and print it once");
    create->set_help_flag("-h,--help", "what `linkd keys create` takes (configuration flags too)");
    create->add_flag("--admin", cmd.admin, "the key may manage other keys");
    create->add_option("--name", cmd.name, "what the key is for");
    create->allow_extras();
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        std::exit(cli.exit(e) == 0 ? 0 : 2);  // a usage mistake is a setup mistake: 2
    }
    cmd.requested = create->parsed();
    rest = cli.remaining(true);
    return cmd;
}

void print_key(const linkd::CreatedKey& k, const char* what) {
    std::printf("linkd: %s (id %lld) - shown once, store it now:\n\n    %s\n\n", what,
                static_cast<long long>(k.key.id), k.secret.c_str());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> rest;
    KeysCommand keys_cmd = parse_command(argc, argv, rest);
    std::vector<const char*> args{argv[0]};
    for (const std::string& a : rest) {
        args.push_back(a.c_str());
    }
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
