#include <keel/config/config.hpp>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

namespace keel::config {

std::string_view to_string(Source s) noexcept {
    switch (s) {
        case Source::defaults:
            return "default";
        case Source::file:
            return "file";
        case Source::env:
            return "env";
        case Source::flag:
            return "flag";
        case Source::code:
            return "code";
    }
    return "?";
}

// ------------------------------------------------------------------------- value syntax

bool parse_duration(std::string_view s, Duration& out) noexcept {
    if (s == "0") {
        out = Duration::zero();
        return true;
    }
    if (s.empty()) {
        return false;
    }
    long double total_ns = 0;
    while (!s.empty()) {
        std::size_t i = 0;
        bool dot = false;
        while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && !dot))) {
            dot = dot || s[i] == '.';
            ++i;
        }
        if (i == 0 || (i == 1 && s[0] == '.')) {
            return false;
        }
        long double number = std::strtold(std::string(s.substr(0, i)).c_str(), nullptr);
        s.remove_prefix(i);
        std::size_t u = 0;
        while (u < s.size() && s[u] >= 'a' && s[u] <= 'z') {
            ++u;
        }
        std::string_view unit = s.substr(0, u);
        s.remove_prefix(u);
        long double scale;
        if (unit == "ns")
            scale = 1;
        else if (unit == "us")
            scale = 1e3L;
        else if (unit == "ms")
            scale = 1e6L;
        else if (unit == "s")
            scale = 1e9L;
        else if (unit == "m")
            scale = 60e9L;
        else if (unit == "h")
            scale = 3600e9L;
        else
            return false;
        total_ns += number * scale;
    }
    if (total_ns > 9.2e18L) {
        return false;
    }
    out = std::chrono::duration_cast<Duration>(
        std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total_ns))));
    return true;
}

std::string format_duration(Duration d) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    struct Unit {
        const char* name;
        std::int64_t ns;
    };
    for (Unit u : {Unit{"h", 3600'000'000'000}, Unit{"m", 60'000'000'000}, Unit{"s", 1'000'000'000},
                   Unit{"ms", 1'000'000}, Unit{"us", 1'000}}) {
        if (ns != 0 && ns % u.ns == 0) {
            return std::to_string(ns / u.ns) + u.name;
        }
    }
    if (ns != 0 && ns % 1'000'000 == 0) {
        return std::to_string(ns / 1'000'000) + "ms";
    }
    return ns == 0 ? "0s" : std::to_string(ns) + "ns";
}

bool parse_bytes(std::string_view s, std::uint64_t& out) noexcept {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end == s.data()) {
        return false;
    }
    std::string_view unit(end, static_cast<std::size_t>(s.data() + s.size() - end));
    std::uint64_t mult;
    if (unit.empty() || unit == "B")
        mult = 1;
    else if (unit == "KiB")
        mult = 1ull << 10;
    else if (unit == "MiB")
        mult = 1ull << 20;
    else if (unit == "GiB")
        mult = 1ull << 30;
    else if (unit == "kB" || unit == "KB")
        mult = 1000;
    else if (unit == "MB")
        mult = 1000'000;
    else if (unit == "GB")
        mult = 1000'000'000;
    else
        return false;
    if (n > UINT64_MAX / mult) {
        return false;
    }
    out = n * mult;
    return true;
}

// ------------------------------------------------------------------------- definitions

Config::Config(std::string env_prefix) : env_prefix_(std::move(env_prefix)) {}

Config::Entry& Config::define(std::string key, Kind kind, std::string help) {
    if (key.empty() || entries_.count(key)) {
        throw std::invalid_argument("keel: config key defined twice or empty: \"" + key + "\"");
    }
    Entry& e = entries_[key];
    e.kind = kind;
    e.help = std::move(help);
    return e;
}

Config& Config::define_bool(std::string key, bool fallback, std::string help) {
    Entry& e = define(std::move(key), Kind::boolean, std::move(help));
    e.value = e.fallback = fallback;
    return *this;
}

Config& Config::define_int(std::string key, std::int64_t fallback, std::int64_t min, std::int64_t max,
                           std::string help) {
    Entry& e = define(std::move(key), Kind::integer, std::move(help));
    e.value = e.fallback = fallback;
    e.min_i = min;
    e.max_i = max;
    return *this;
}

Config& Config::define_string(std::string key, std::string fallback, std::string help, std::vector<std::string> allowed,
                              bool secret) {
    Entry& e = define(std::move(key), Kind::string, std::move(help));
    e.value = e.fallback = std::move(fallback);
    e.allowed = std::move(allowed);
    e.secret = secret;
    return *this;
}

Config& Config::define_duration(std::string key, Duration fallback, Duration min, Duration max, std::string help) {
    Entry& e = define(std::move(key), Kind::duration, std::move(help));
    e.value = e.fallback = fallback;
    e.min_d = min;
    e.max_d = max;
    return *this;
}

Config& Config::define_bytes(std::string key, std::uint64_t fallback, std::uint64_t min, std::uint64_t max,
                             std::string help) {
    Entry& e = define(std::move(key), Kind::bytes, std::move(help));
    e.value = e.fallback = fallback;
    e.min_u = min;
    e.max_u = max;
    return *this;
}

// ------------------------------------------------------------------------- validation

std::string Config::allowed_text(const Entry& e) const {
    switch (e.kind) {
        case Kind::boolean:
            return "true or false";
        case Kind::integer:
            return "an integer between " + std::to_string(e.min_i) + " and " + std::to_string(e.max_i);
        case Kind::string: {
            if (e.allowed.empty()) {
                return "a string";
            }
            std::string s = "one of";
            for (std::size_t i = 0; i < e.allowed.size(); ++i) {
                s += (i ? ", \"" : " \"") + e.allowed[i] + "\"";
            }
            return s;
        }
        case Kind::duration:
            return "a duration like \"500ms\" or \"30s\" between " + format_duration(e.min_d) + " and " +
                   format_duration(e.max_d);
        case Kind::bytes:
            return "a size like \"16KiB\" or \"1MiB\" between " + std::to_string(e.min_u) + " and " +
                   std::to_string(e.max_u) + " bytes";
    }
    return "?";
}

std::string redact_credentials(std::string_view text) {
    std::string out(text);
    constexpr std::string_view kRedacted = "[redacted]";
    // scheme://user:password@host: the password (up to the last '@' of the authority).
    for (std::size_t from = 0; (from = out.find("://", from)) != std::string::npos;) {
        std::size_t start = from + 3;
        std::size_t end = out.find_first_of("/?#", start);
        std::string_view authority(out.data() + start, (end == std::string::npos ? out.size() : end) - start);
        std::size_t at = authority.rfind('@');
        std::size_t colon = authority.substr(0, at == std::string_view::npos ? 0 : at).find(':');
        if (at != std::string_view::npos && colon != std::string_view::npos) {
            out.replace(start + colon + 1, at - colon - 1, kRedacted);
        }
        from = start;
    }
    // ...?password=secret&... (libpq URIs accept it as a parameter)
    for (std::size_t from = 0; (from = out.find("password=", from)) != std::string::npos;) {
        bool at_param_start = from > 0 && (out[from - 1] == '?' || out[from - 1] == '&' || out[from - 1] == ' ');
        std::size_t start = from + 9;
        if (at_param_start) {
            std::size_t end = out.find_first_of("& ", start);
            out.replace(start, (end == std::string::npos ? out.size() : end) - start, kRedacted);
        }
        from = start;
    }
    return out;
}

Config::Value Config::parse(const std::string& key, const Entry& e, std::string_view text,
                            std::string_view origin) const {
    auto fail = [&]() -> ConfigError {
        std::string shown = e.secret ? std::string("[redacted]") : redact_credentials(text);
        return ConfigError("keel: config: " + key + " = \"" + shown + "\" (from " + std::string(origin) +
                           "): must be " + allowed_text(e));
    };
    switch (e.kind) {
        case Kind::boolean:
            if (text == "true" || text == "1" || text == "yes" || text == "on")
                return true;
            if (text == "false" || text == "0" || text == "no" || text == "off")
                return false;
            throw fail();
        case Kind::integer: {
            std::int64_t v = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < e.min_i || v > e.max_i) {
                throw fail();
            }
            return v;
        }
        case Kind::string:
            if (!e.allowed.empty() && std::find(e.allowed.begin(), e.allowed.end(), text) == e.allowed.end()) {
                throw fail();
            }
            return std::string(text);
        case Kind::duration: {
            Duration d;
            if (!parse_duration(text, d) || d < e.min_d || d > e.max_d) {
                throw fail();
            }
            return d;
        }
        case Kind::bytes: {
            std::uint64_t b;
            if (!parse_bytes(text, b) || b < e.min_u || b > e.max_u) {
                throw fail();
            }
            return b;
        }
    }
    throw fail();
}

void Config::set(std::string_view key, std::string_view value, Source source) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        throw ConfigError("keel: config: unknown key \"" + std::string(key) + "\" (from " +
                          std::string(to_string(source)) + ")");
    }
    std::string origin(to_string(source));
    if (source == Source::env) {
        origin += " " + env_name(key);
    }
    it->second.value = parse(it->first, it->second, value, origin);
    it->second.source = source;
}

std::string Config::env_name(std::string_view key) const {
    std::string name = env_prefix_ + "_";
    for (char c : key) {
        name += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return name;
}

// ------------------------------------------------------------------------- sources

namespace {
void walk_toml(const toml::table& table, const std::string& prefix,
               const std::function<void(const std::string&, const toml::node&)>& leaf) {
    for (const auto& [k, node] : table) {
        std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
        if (const toml::table* sub = node.as_table()) {
            walk_toml(*sub, key, leaf);
        } else {
            leaf(key, node);
        }
    }
}
}  // namespace

void Config::load_toml(std::string_view text, std::string_view origin) {
    toml::table table;
    try {
        table = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << "keel: config: cannot parse " << origin << " at line " << e.source().begin.line << ": "
            << e.description();
        throw ConfigError(msg.str());
    }
    walk_toml(table, "", [&](const std::string& key, const toml::node& node) {
        auto it = entries_.find(key);
        if (it == entries_.end()) {
            throw ConfigError("keel: config: unknown key \"" + key + "\" in " + std::string(origin));
        }
        std::string text_value;
        if (auto s = node.value<std::string>(); s && node.is_string()) {
            text_value = *s;
        } else if (node.is_integer()) {
            text_value = std::to_string(*node.value<std::int64_t>());
        } else if (node.is_boolean()) {
            text_value = *node.value<bool>() ? "true" : "false";
        } else if (node.is_floating_point()) {
            std::ostringstream f;
            f << *node.value<double>();
            text_value = f.str();
        } else {
            throw ConfigError("keel: config: " + key + " in " + std::string(origin) + ": must be " +
                              allowed_text(it->second));
        }
        it->second.value = parse(key, it->second, text_value, std::string("file ") + std::string(origin));
        it->second.source = Source::file;
    });
}

void Config::load_env() {
    for (auto& [key, e] : entries_) {
        if (const char* v = std::getenv(env_name(key).c_str())) {
            e.value = parse(key, e, v, "env " + env_name(key));
            e.source = Source::env;
        }
    }
}

bool Config::load(int argc, const char* const* argv) {
    CLI::App cli;
    cli.set_help_flag();  // our own --help lists env names too
    bool want_help = false;
    cli.add_flag("-h,--help", want_help, "show the configuration keys and exit");
    std::string config_path;
    cli.add_option("--config", config_path, "TOML configuration file");
    std::map<std::string, std::string> flag_values;
    for (auto& [key, e] : entries_) {
        cli.add_option("--" + key, flag_values[key], e.help);
    }
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        throw ConfigError(std::string("keel: config: ") + e.what());
    }
    if (want_help) {
        std::cout << help();
        return false;
    }
    if (config_path.empty()) {
        if (const char* p = std::getenv((env_prefix_ + "_CONFIG").c_str())) {
            config_path = p;
        }
    }
    if (!config_path.empty()) {
        std::ifstream in(config_path);
        if (!in) {
            throw ConfigError("keel: config: cannot read config file \"" + config_path + "\"");
        }
        std::stringstream buf;
        buf << in.rdbuf();
        load_toml(buf.str(), config_path);
    }
    load_env();
    for (auto& [key, e] : entries_) {
        if (cli.get_option("--" + key)->count() > 0) {
            e.value = parse(key, e, flag_values[key], "flag --" + key);
            e.source = Source::flag;
        }
    }
    return true;
}

// ------------------------------------------------------------------------- reading

const Config::Entry& Config::at(std::string_view key, Kind kind) const {
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.kind != kind) {
        throw std::invalid_argument("keel: config key not defined with that type: \"" + std::string(key) + "\"");
    }
    return it->second;
}

bool Config::get_bool(std::string_view key) const {
    return std::get<bool>(at(key, Kind::boolean).value);
}
std::int64_t Config::get_int(std::string_view key) const {
    return std::get<std::int64_t>(at(key, Kind::integer).value);
}
const std::string& Config::get_string(std::string_view key) const {
    return std::get<std::string>(at(key, Kind::string).value);
}
Duration Config::get_duration(std::string_view key) const {
    return std::get<Duration>(at(key, Kind::duration).value);
}
std::uint64_t Config::get_bytes(std::string_view key) const {
    return std::get<std::uint64_t>(at(key, Kind::bytes).value);
}

Source Config::source(std::string_view key) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        throw std::invalid_argument("keel: config key not defined: \"" + std::string(key) + "\"");
    }
    return it->second.source;
}

std::string Config::format(const Entry& e) const {
    if (e.secret) {
        return std::get<std::string>(e.value).empty() ? "" : "[redacted]";
    }
    switch (e.kind) {
        case Kind::boolean:
            return std::get<bool>(e.value) ? "true" : "false";
        case Kind::integer:
            return std::to_string(std::get<std::int64_t>(e.value));
        case Kind::string:
            return redact_credentials(std::get<std::string>(e.value));
        case Kind::duration:
            return format_duration(std::get<Duration>(e.value));
        case Kind::bytes:
            return std::to_string(std::get<std::uint64_t>(e.value));
    }
    return "";
}

std::vector<std::pair<std::string, std::string>> Config::dump() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [key, e] : entries_) {
        out.emplace_back(key, format(e));
    }
    return out;
}

std::string Config::help() const {
    std::ostringstream o;
    o << "Options (flags > environment > --config file > defaults):\n"
      << "  --config PATH  (" << env_prefix_ << "_CONFIG)  TOML configuration file\n";
    for (const auto& [key, e] : entries_) {
        Entry shown = e;
        shown.value = e.fallback;
        o << "  --" << key << "  (" << env_name(key) << ")  " << e.help << " [default: " << format(shown) << "; "
          << allowed_text(e) << "]\n";
    }
    return o.str();
}

}  // namespace keel::config
