#include "config_schema.hpp"

#include <keel/net/address.hpp>

namespace keel::detail {

using namespace std::chrono_literals;

void define_standard_keys(config::Config& c, const std::string& admin_listen) {
    const server::ServerOptions d;  // the defaults
    const http::ParserLimits& l = d.limits;
    c.define_string("server.host", d.host, "address to listen on (numeric IPv4/IPv6)");
    c.define_int("server.port", d.port, 0, 65535, "TCP port to listen on (0 = any free port)");
    c.define_int("server.threads", d.threads, 0, 1024, "event-loop threads (0 = one per hardware thread)");
    c.define_int("server.backlog", d.backlog, 1, 65535, "listen backlog per loop thread");
    c.define_string("server.io", std::string(to_string(d.io)), "event-loop I/O back-end (io_uring: Linux 5.19+)",
                    {"epoll", "io_uring"});
    c.define_duration("server.io_batch_wait", d.io_batch_wait, 0s, 1s,
                      "io_uring (Linux 6.12+): sleep up to this much longer for a fuller batch of completions "
                      "(less CPU per request under load, that much more latency when light)");
    c.define_bytes("server.max_header_bytes", l.max_header_bytes, 256, 1 << 20, "max request line + headers (431)");
    c.define_bytes("server.max_uri_bytes", l.max_uri_bytes, 64, 1 << 20, "max request-target length (414)");
    c.define_int("server.max_headers", static_cast<std::int64_t>(l.max_headers), 1, 10000,
                 "max header fields per request (431)");
    c.define_bytes("server.max_body_bytes", l.max_body_bytes, 0, 1ull << 32, "max request body (413)");
    c.define_duration("server.read_header_timeout", d.read_header_timeout, 1ms, 24h,
                      "time to receive a request head (408)");
    c.define_duration("server.read_timeout", d.read_timeout, 1ms, 24h, "time to receive a whole request (408)");
    c.define_duration("server.write_timeout", d.write_timeout, 1ms, 24h, "time a response may wait for a slow reader");
    c.define_duration("server.idle_timeout", d.idle_timeout, 1ms, 24h, "keep-alive connection idle time");
    c.define_duration("server.handler_timeout", d.handler_timeout, 0s, 24h,
                      "per-request handler deadline (503); 0 = none");
    c.define_duration("server.shutdown_timeout", d.shutdown_timeout, 0s, 1h, "graceful shutdown deadline");
    c.define_duration("server.shutdown_delay", 0s, 0s, 10min,
                      "at shutdown, report not-ready (/readyz 503) but keep serving this long before closing the "
                      "listeners: a load balancer's time to take the instance out");
    c.define_string(
        "server.tls_cert", "",
        "PEM certificate chain: serve HTTPS (several, comma-separated: chosen by SNI, the first by default)");
    c.define_string("server.tls_key", "", "PEM private key of each server.tls_cert (both or neither)");
    c.define_string("server.tls_client_ca", "", "PEM CA bundle: require client certificates signed by it");
    c.define_duration("server.tls_handshake_timeout", d.tls_handshake_timeout, 1ms, 1h,
                      "time a client has to finish the TLS handshake");
    c.define_bool("server.h2", true, "offer HTTP/2 to TLS clients (ALPN h2)");
    c.define_bool("server.h2c", d.h2c, "accept HTTP/2 without TLS from clients that open with its preface");
    c.define_bool("server.http1", d.http1, "serve HTTP/1.x (false: the port speaks HTTP/2 only)");
    c.define_int("server.h2_max_concurrent_streams", d.h2_max_concurrent_streams, 1, 10000,
                 "HTTP/2 streams one client may have open at once");
    c.define_int("server.h2_max_buffered_bytes", static_cast<std::int64_t>(d.h2_max_buffered_bytes), 16 * 1024,
                 1LL << 32, "HTTP/2 response bytes one connection may hold unsent before its new requests wait");
    c.define_string("log.level", "info", "minimum log level", {"trace", "debug", "info", "warn", "error", "off"});
    c.define_string("log.output", "stderr", "stderr, stdout or a file path");
    c.define_int("workers.threads", 4, 1, 1024, "worker pool threads for blocking work (keel::offload)");
    c.define_int("workers.queue", 1024, 1, 1 << 20, "worker pool queue capacity (full → 503)");
    c.define_string("admin.listen", admin_listen,
                    "address of the admin listener (/metrics, /debug/pprof, /debug/vars, /livez, /readyz); "
                    "empty = none");
    c.define_bool("admin.on_main", false, "serve the admin endpoints on the main port instead");
    c.define_duration("admin.max_profile", 60s, 1s, 1h, "longest CPU profile /debug/pprof/profile may take");
}

std::pair<std::string, std::uint16_t> parse_listen(const std::string& key, const std::string& value) {
    auto hp = net::parse_host_port(value);
    if (!hp || !net::Address::parse(hp->host, hp->port)) {
        throw config::ConfigError("keel: config: " + key + " = \"" + value +
                                  "\": must be a numeric address and port like 127.0.0.1:9090 or [::1]:9090");
    }
    return {hp->host, hp->port};
}

server::ServerOptions server_options_from(const config::Config& c) {
    server::ServerOptions o;
    o.host = c.get_string("server.host");
    o.port = c.get_int<std::uint16_t>("server.port");
    o.threads = c.get_int<unsigned>("server.threads");
    o.backlog = c.get_int<int>("server.backlog");
    o.io = parse_io_backend(c.get_string("server.io")).value_or(IoBackend::epoll);  // the key allows only these
    o.io_batch_wait = std::chrono::duration_cast<std::chrono::microseconds>(c.get_duration("server.io_batch_wait"));
    o.limits.max_header_bytes = c.get_bytes("server.max_header_bytes");
    o.limits.max_uri_bytes = c.get_bytes("server.max_uri_bytes");
    o.limits.max_headers = c.get_int<std::size_t>("server.max_headers");
    o.limits.max_body_bytes = c.get_bytes("server.max_body_bytes");
    o.read_header_timeout = c.get_duration("server.read_header_timeout");
    o.read_timeout = c.get_duration("server.read_timeout");
    o.write_timeout = c.get_duration("server.write_timeout");
    o.idle_timeout = c.get_duration("server.idle_timeout");
    o.handler_timeout = c.get_duration("server.handler_timeout");
    o.shutdown_timeout = c.get_duration("server.shutdown_timeout");
    o.tls_handshake_timeout = c.get_duration("server.tls_handshake_timeout");
    o.h2c = c.get_bool("server.h2c");
    o.http1 = c.get_bool("server.http1");
    o.h2_max_concurrent_streams = c.get_int<std::uint32_t>("server.h2_max_concurrent_streams");
    o.h2_max_buffered_bytes = c.get_int<std::size_t>("server.h2_max_buffered_bytes");
    if (c.get_string("server.tls_cert").empty() != c.get_string("server.tls_key").empty()) {
        throw config::ConfigError("keel: config: server.tls_cert and server.tls_key: give both (HTTPS) or neither");
    }
    if (auto a = net::Address::parse(o.host, o.port); !a) {
        throw config::ConfigError("keel: config: server.host = \"" + o.host +
                                  "\": must be a numeric IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::1)");
    }
    if (o.limits.max_uri_bytes > o.limits.max_header_bytes) {
        throw config::ConfigError("keel: config: server.max_uri_bytes = " + std::to_string(o.limits.max_uri_bytes) +
                                  ": must not exceed server.max_header_bytes (" +
                                  std::to_string(o.limits.max_header_bytes) + ")");
    }
    if (o.read_header_timeout > o.read_timeout) {
        throw config::ConfigError(
            "keel: config: server.read_header_timeout = " + config::format_duration(o.read_header_timeout) +
            ": must not exceed server.read_timeout (" + config::format_duration(o.read_timeout) + ")");
    }
    return o;
}

void validate_standard_keys(const config::Config& c) {
    (void)server_options_from(c);
    if (const std::string& admin = c.get_string("admin.listen"); !admin.empty()) {
        (void)parse_listen("admin.listen", admin);
    }
}

}  // namespace keel::detail
