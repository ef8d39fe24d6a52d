#pragma once
/// keel::config::Config: typed configuration keys ("server.port") with defaults, read from a
/// TOML file, the environment and command-line flags, in that order of increasing precedence
/// (flags > env > file > defaults). Every value is validated when it is read; an invalid one
/// throws ConfigError naming the key, the value, where it came from and what is allowed, and
/// keel::App turns that into exit code 2.
///
///     Config c("KEEL");
///     c.define_int("server.port", 8080, 0, 65535, "TCP port to listen on");
///     c.load(argc, argv);           // --server.port 9000, KEEL_SERVER_PORT=9000, [server] port = 9000
///     auto port = c.get_int("server.port");
///
/// The file comes from `--config PATH` or `<PREFIX>_CONFIG`. Unknown keys in the file and
/// unknown flags are errors (typos must not be silently ignored).

#include <keel/core/loop.hpp>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace keel::config {

/// What the value of a key must look like.
enum class Kind { boolean, integer, string, duration, bytes };

class ConfigError : public std::runtime_error {
  public:
    explicit ConfigError(const std::string& message) : std::runtime_error(message) {}
};

/// `text` with the credentials of any URL in it replaced: the password of
/// `scheme://user:password@host` and the value of a `password=` query parameter become
/// "[redacted]" ("redis://:[redacted]@cache:6379/0"). Used by dump() and in error messages
/// for every string value; use it before logging a URL.
std::string redact_credentials(std::string_view text);

/// Where a value came from.
enum class Source { defaults, file, env, flag, code };
std::string_view to_string(Source s) noexcept;

class Config {
  public:
    explicit Config(std::string env_prefix = "KEEL");

    // --- definitions (before load) -----------------------------------------------------------
    Config& define_bool(std::string key, bool fallback, std::string help);
    Config& define_int(std::string key, std::int64_t fallback, std::int64_t min, std::int64_t max, std::string help);
    /// `allowed` empty means any string; `secret` values are redacted by dump().
    Config& define_string(std::string key, std::string fallback, std::string help,
                          std::vector<std::string> allowed = {}, bool secret = false);
    /// Go-style durations: "300ms", "1.5s", "2m", "1h30m".
    Config& define_duration(std::string key, Duration fallback, Duration min, Duration max, std::string help);
    /// Sizes: "1048576", "16KiB", "1MiB", "2GiB" (also kB/MB/GB as powers of 1000).
    Config& define_bytes(std::string key, std::uint64_t fallback, std::uint64_t min, std::uint64_t max,
                         std::string help);

    // --- loading ------------------------------------------------------------------------------
    /// Reads the file, then the environment, then the flags. Returns false when --help was
    /// asked for (the help text is printed; the caller should exit 0). Throws ConfigError.
    bool load(int argc, const char* const* argv);
    /// Applies a TOML document (used by load(); handy in tests).
    void load_toml(std::string_view toml, std::string_view origin = "config");
    /// Applies <PREFIX>_<KEY> variables (dots and dashes become underscores, upper-cased).
    void load_env();
    /// Sets one key from its text form, validating it.
    void set(std::string_view key, std::string_view value, Source source = Source::code);

    // --- reading ------------------------------------------------------------------------------
    bool get_bool(std::string_view key) const;
    std::int64_t get_int(std::string_view key) const;
    /// The same, as the integer type the caller stores it in (`get_int<std::uint32_t>(...)`,
    /// no narrowing cast in user code). Throws ConfigError when the value does not fit T: keep
    /// the key's defined range inside T's.
    template <class T>
    requires std::is_integral_v<T> T get_int(std::string_view key)
    const {
        std::int64_t v = get_int(key);
        if (!std::in_range<T>(v)) {
            throw ConfigError("keel: config: " + std::string(key) + " = " + std::to_string(v) +
                              ": does not fit the type it is read into");
        }
        return static_cast<T>(v);
    }
    const std::string& get_string(std::string_view key) const;
    Duration get_duration(std::string_view key) const;
    std::uint64_t get_bytes(std::string_view key) const;
    Source source(std::string_view key) const;
    bool has(std::string_view key) const noexcept { return entries_.count(std::string(key)) > 0; }

    /// The environment variable name for a key ("server.port" → "KEEL_SERVER_PORT").
    std::string env_name(std::string_view key) const;
    /// Every key with its current value as text (secrets as "[redacted]", credentials in URLs
    /// too), sorted by key.
    std::vector<std::pair<std::string, std::string>> dump() const;
    /// One line per key: flag, env name, default, help.
    std::string help() const;

  private:
    using Value = std::variant<bool, std::int64_t, std::string, Duration, std::uint64_t>;
    struct Entry {
        Kind kind = {};
        std::string help = {};
        Value value = {};
        Value fallback = {};
        std::int64_t min_i = 0, max_i = 0;
        std::uint64_t min_u = 0, max_u = 0;
        Duration min_d{}, max_d{};
        std::vector<std::string> allowed = {};
        bool secret = false;
        Source source = Source::defaults;
    };

    Entry& define(std::string key, Kind kind, std::string help);
    const Entry& at(std::string_view key, Kind kind) const;
    Value parse(const std::string& key, const Entry& e, std::string_view text, std::string_view origin) const;
    std::string allowed_text(const Entry& e) const;
    std::string format(const Entry& e) const;

    std::string env_prefix_;
    std::map<std::string, Entry, std::less<>> entries_;
};

/// Parses a Go-style duration ("1h2m3.5s"); false on a malformed text.
bool parse_duration(std::string_view text, Duration& out) noexcept;
/// Parses a size ("16KiB"); false on a malformed text or overflow.
bool parse_bytes(std::string_view text, std::uint64_t& out) noexcept;
/// Formats a duration the way parse_duration reads it ("1.5s", "250ms", "2m").
std::string format_duration(Duration d);

}  // namespace keel::config
