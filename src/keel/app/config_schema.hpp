#pragma once
// The App's configuration schema: the standard keys (server.*, log.*, workers.*, admin.*), their
// defaults — server.* takes them from ServerOptions and ParserLimits, so each default is written
// once, in the struct a library user sees — and the mapping config → ServerOptions with the
// rules between keys.

#include <keel/config/config.hpp>
#include <keel/server/server_options.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace keel::detail {

/// Defines every standard key; `admin_listen` is AppOptions::admin_listen (admin.listen's default).
void define_standard_keys(config::Config& c, const std::string& admin_listen);
/// The server options the configuration asks for. Throws config::ConfigError naming the keys
/// when a rule between them is broken (e.g. server.max_uri_bytes > server.max_header_bytes).
server::ServerOptions server_options_from(const config::Config& c);
/// Checks what define-time validation cannot (rules between keys, admin.listen's form).
void validate_standard_keys(const config::Config& c);
/// "host:port" or "[v6]:port" → address parts; throws config::ConfigError naming the key.
std::pair<std::string, std::uint16_t> parse_listen(const std::string& key, const std::string& value);

}  // namespace keel::detail
