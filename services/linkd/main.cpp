// linkd: wiring only. Configuration, logging, signals and graceful shutdown come from
// keel::App; the service itself is linkd::Linkd.
//
//     linkd [--config linkd.toml] [--db.url ...] [--server.port ...]     serve
//     linkd keys create [--admin] [--name NAME] [config flags]         create an API key, print it
//     linkd probe [URL]                       exit 0 when URL answers 2xx (container HEALTHCHECK)
//     linkd sleep DURATION                    a Kubernetes preStop hook for an image without sleep(1)
#include "linkd.hpp"
#include "probe.hpp"

#include <keel/app/app.hpp>
#include <keel/middleware/real_ip.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Command {
    bool create_key = false;  // keys create
    bool admin = false;
    std::string name = "created by linkd keys create";
    bool probe = false;
    std::string probe_url = "http://127.0.0.1:9090/livez";
    bool sleep = false;
    std::string sleep_for;
};

/// The subcommands (`keys create [--admin] [--name N]`, `probe`, `sleep`) with CLI11; everything
/// it does not know (the configuration flags, a top-level --help) is left for keel::App. Exits 2
/// on a malformed command.
Command parse_command(int argc, char** argv, std::vector<std::string>& rest) {
    Command cmd;
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
    CLI::App* probe = cli.add_subcommand("probe",
                                         "GET a URL of this host; exit 0 on 2xx (a health check "
                                         "for images without curl or a shell)");
    probe->add_option("url", cmd.probe_url, "http://127.0.0.1:PORT/PATH (default: the admin /livez)");
    CLI::App* sleep = cli.add_subcommand("sleep", "wait, then exit 0 (a preStop hook in an image without a shell)");
    sleep->add_option("duration", cmd.sleep_for, "how long, like 5s or 500ms")->required();
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        std::exit(cli.exit(e) == 0 ? 0 : 2);  // a usage mistake is a setup mistake: 2
    }
    cmd.create_key = create->parsed();
    cmd.probe = probe->parsed();
    cmd.sleep = sleep->parsed();
    rest = cli.remaining(true);
    return cmd;
}

/// "10.0.0.0/8, 127.0.0.2/32" -> {"10.0.0.0/8", "127.0.0.2/32"}
std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        std::size_t comma = std::min(text.find(','), text.size());
        std::string_view item = text.substr(0, comma);
        text.remove_prefix(std::min(comma + 1, text.size()));
        while (!item.empty() && item.front() == ' ') {
            item.remove_prefix(1);
        }
        while (!item.empty() && item.back() == ' ') {
            item.remove_suffix(1);
        }
        if (!item.empty()) {
            out.emplace_back(item);
        }
    }
    return out;
}

void print_key(const linkd::CreatedKey& k, const char* what) {
    std::printf("linkd: %s (id %lld) - shown once, store it now:\n\n    %s\n\n", what, static_cast<long long>(k.key.id),
                k.secret.c_str());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> rest;
    Command command = parse_command(argc, argv, rest);
    if (command.probe) {
        return linkd::probe(command.probe_url);
    }
    if (command.sleep) {
        keel::Duration d{};
        if (!keel::config::parse_duration(command.sleep_for, d)) {
            std::fprintf(stderr, "linkd sleep: \"%s\" is not a duration like 5s or 500ms\n", command.sleep_for.c_str());
            return 2;
        }
        std::this_thread::sleep_for(d);
        return 0;
    }
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
                           c.define_string("proxy.trusted", "",
                                           "comma-separated CIDRs of the proxies whose X-Forwarded-For is believed "
                                           "(the load balancer's address); empty: the TCP peer is the client");
                       },
                   .admin_listen = "127.0.0.1:9090"});
    std::unique_ptr<linkd::Linkd> service;
    try {
        service = std::make_unique<linkd::Linkd>(linkd::options_from(app.config()), app.workers(), &app.logger());
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "linkd: config: %s\n", e.what());
        return 2;
    }

    if (command.create_key) {
        auto key = service->create_key(command.name, command.admin);
        if (!key) {
            std::fprintf(stderr, "linkd: keys create: %s\n", std::string(key.error().message()).c_str());
            return 1;
        }
        print_key(*key, command.admin ? "created an admin API key" : "created an API key");
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
    app.on_admin_routes([&service](keel::router::Router& admin) { service->add_admin_routes(admin); });
    keel::router::Router r;
    if (app.config().get_bool("metrics.http")) {
        r.use(app.http_metrics());  // outermost: counts every answer, 404s and 500s included
    }
    if (app.config().get_bool("log.access")) {
        r.use(app.access_log());  // outside the rest: logs what was finally sent
    }
    r.use(app.recoverer());
    r.use(keel::mw::request_id());
    if (std::vector<std::string> proxies = split_list(app.config().get_string("proxy.trusted")); !proxies.empty()) {
        try {
            r.use(keel::mw::real_ip(proxies));  // client IPs for rate limits and the access log
        } catch (const std::invalid_argument& e) {
            std::fprintf(stderr, "linkd: config: proxy.trusted: %s\n", e.what());
            return 2;
        }
    }
    r.use(keel::mw::trace_context());
    service->add_routes(r, [&app] { return app.ready(); });
    app.handle(r.handler());
    app.on_shutdown([&service] { service->stop(); });  // after the server stopped: last flush
    return app.run();
}
