#include <keel/config/config.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

using namespace std::chrono_literals;
using keel::config::Config;
using keel::config::ConfigError;
using keel::config::Source;

namespace {

Config make() {
    Config c("KEELTEST");
    c.define_int("server.port", 8080, 0, 65535, "port");
    c.define_string("log.level", "info", "level", {"debug", "info", "warn"});
    c.define_duration("server.read_timeout", 30s, 1ms, 1h, "read timeout");
    c.define_bytes("server.max_body_bytes", 1 << 20, 0, 1ull << 30, "max body");
    c.define_bool("feature.enabled", false, "flag");
    c.define_string("auth.admin_key", "", "admin key", {}, /*secret=*/true);
    return c;
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no error>";
}

struct EnvGuard {
    explicit EnvGuard(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~EnvGuard() { ::unsetenv(name_); }
    const char* name_;
};

}  // namespace

TEST(Config, DefaultsApply) {
    Config c = make();
    const char* argv[] = {"prog"};
    ASSERT_TRUE(c.load(1, argv));
    EXPECT_EQ(c.get_int("server.port"), 8080);
    EXPECT_EQ(c.get_duration("server.read_timeout"), 30s);
    EXPECT_EQ(c.source("server.port"), Source::defaults);
}

TEST(Config, PrecedenceIsFlagsThenEnvThenFileThenDefaults) {
    std::string path = ::testing::TempDir() + "/keel_config_test.toml";
    std::ofstream(path)
        << "[server]\nport = 7000\nread_timeout = \"5s\"\nmax_body_bytes = \"2MiB\"\n[log]\nlevel = \"warn\"\n";
    EnvGuard env("KEELTEST_SERVER_PORT", "7100");
    EnvGuard env2("KEELTEST_SERVER_READ_TIMEOUT", "6s");
    Config c = make();
    const char* argv[] = {"prog", "--config", path.c_str(), "--server.port", "7200"};
    ASSERT_TRUE(c.load(5, argv));
    EXPECT_EQ(c.get_int("server.port"), 7200);  // flag beats env and file
    EXPECT_EQ(c.source("server.port"), Source::flag);
    EXPECT_EQ(c.get_duration("server.read_timeout"), 6s);  // env beats file
    EXPECT_EQ(c.source("server.read_timeout"), Source::env);
    EXPECT_EQ(c.get_bytes("server.max_body_bytes"), 2u << 20);  // file beats default
    EXPECT_EQ(c.get_string("log.level"), "warn");
    EXPECT_EQ(c.source("log.level"), Source::file);
    EXPECT_EQ(c.get_bool("feature.enabled"), false);  // default
}

TEST(Config, ConfigFileFromEnvironment) {
    std::string path = ::testing::TempDir() + "/keel_config_env.toml";
    std::ofstream(path) << "feature.enabled = true\n";
    EnvGuard env("KEELTEST_CONFIG", path.c_str());
    Config c = make();
    const char* argv[] = {"prog"};
    ASSERT_TRUE(c.load(1, argv));
    EXPECT_TRUE(c.get_bool("feature.enabled"));
}

TEST(Config, InvalidIntegerNamesKeyValueSourceAndRange) {
    Config c = make();
    const char* argv[] = {"prog", "--server.port", "99999"};
    std::string e = error_of([&] { c.load(3, argv); });
    EXPECT_EQ(
        e, "keel: config: server.port = \"99999\" (from flag --server.port): must be an integer between 0 and 65535");
}

TEST(Config, InvalidEnvValueNamesTheVariable) {
    EnvGuard env("KEELTEST_SERVER_READ_TIMEOUT", "soon");
    Config c = make();
    const char* argv[] = {"prog"};
    std::string e = error_of([&] { c.load(1, argv); });
    EXPECT_NE(e.find("server.read_timeout = \"soon\" (from env KEELTEST_SERVER_READ_TIMEOUT)"), std::string::npos) << e;
    EXPECT_NE(e.find("must be a duration like"), std::string::npos) << e;
}

TEST(Config, InvalidEnumListsAllowedValues) {
    Config c = make();
    std::string e = error_of([&] { c.set("log.level", "loud"); });
    EXPECT_NE(e.find("must be one of \"debug\", \"info\", \"warn\""), std::string::npos) << e;
}

TEST(Config, UnknownKeyInFileIsAnError) {
    Config c = make();
    std::string e = error_of([&] { c.load_toml("[server]\nprot = 80\n", "app.toml"); });
    EXPECT_EQ(e, "keel: config: unknown key \"server.prot\" in app.toml");
}

TEST(Config, WrongTypeInFileIsAnError) {
    Config c = make();
    std::string e = error_of([&] { c.load_toml("[server]\nport = \"eighty\"\n", "app.toml"); });
    EXPECT_NE(e.find("server.port = \"eighty\" (from file app.toml): must be an integer"), std::string::npos) << e;
}

TEST(Config, MalformedTomlReportsLine) {
    Config c = make();
    std::string e = error_of([&] { c.load_toml("[server]\nport = = 1\n", "bad.toml"); });
    EXPECT_NE(e.find("cannot parse bad.toml at line 2"), std::string::npos) << e;
}

TEST(Config, UnknownFlagIsAnError) {
    Config c = make();
    const char* argv[] = {"prog", "--server.prot", "1"};
    std::string e = error_of([&] { c.load(3, argv); });
    EXPECT_NE(e.find("keel: config:"), std::string::npos);
    EXPECT_NE(e.find("server.prot"), std::string::npos) << e;
}

TEST(Config, SecretsAreRedacted) {
    Config c = make();
    c.set("auth.admin_key", "s3cr3t");
    for (const auto& [k, v] : c.dump()) {
        if (k == "auth.admin_key") {
            EXPECT_EQ(v, "[redacted]");
        }
        EXPECT_EQ(v.find("s3cr3t"), std::string::npos);
    }
}

// Issue 15: a Redis or database URL with a password showed it in clear in /debug/vars.
TEST(Config, CredentialsInUrlsAreRedacted) {
    using keel::config::redact_credentials;
    EXPECT_EQ(redact_credentials("redis://:secret@127.0.0.1:16379"), "redis://:[redacted]@127.0.0.1:16379");
    EXPECT_EQ(redact_credentials("redis://app:s3cr%40t@cache:6379/2"), "redis://app:[redacted]@cache:6379/2");
    EXPECT_EQ(redact_credentials("postgres://linkd:pw@db:5432/linkd?sslmode=disable"),
              "postgres://linkd:[redacted]@db:5432/linkd?sslmode=disable");
    EXPECT_EQ(redact_credentials("postgres://linkd@db/linkd?password=pw&sslmode=disable"),
              "postgres://linkd@db/linkd?password=[redacted]&sslmode=disable");
    EXPECT_EQ(redact_credentials("postgres://user@db/x"), "postgres://user@db/x");  // no password
    EXPECT_EQ(redact_credentials("sqlite://linkd.db"), "sqlite://linkd.db");
    EXPECT_EQ(redact_credentials("http://a.example/@b:c"), "http://a.example/@b:c");  // '@' in the path

    Config c = make();
    c.define_string("redis.url", "", "redis");
    c.set("redis.url", "redis://:hunter2@10.0.0.1:6379");
    for (const auto& [k, v] : c.dump()) {
        EXPECT_EQ(v.find("hunter2"), std::string::npos) << k << " = " << v;
    }
}

TEST(Config, EnvNameDerivation) {
    Config c = make();
    EXPECT_EQ(c.env_name("server.read_timeout"), "KEELTEST_SERVER_READ_TIMEOUT");
}

TEST(ConfigValues, Durations) {
    keel::Duration d;
    ASSERT_TRUE(keel::config::parse_duration("1h30m", d));
    EXPECT_EQ(d, 90min);
    ASSERT_TRUE(keel::config::parse_duration("1.5s", d));
    EXPECT_EQ(d, 1500ms);
    ASSERT_TRUE(keel::config::parse_duration("250ms", d));
    EXPECT_EQ(d, 250ms);
    ASSERT_TRUE(keel::config::parse_duration("0", d));
    EXPECT_EQ(d, 0s);
    EXPECT_FALSE(keel::config::parse_duration("10", d));
    EXPECT_FALSE(keel::config::parse_duration("5parsecs", d));
    EXPECT_FALSE(keel::config::parse_duration("", d));
    EXPECT_FALSE(keel::config::parse_duration("-1s", d));
    EXPECT_EQ(keel::config::format_duration(90s), "90s");
    EXPECT_EQ(keel::config::format_duration(2min), "2m");
    EXPECT_EQ(keel::config::format_duration(1500ms), "1500ms");
}

TEST(ConfigValues, Bytes) {
    std::uint64_t b;
    ASSERT_TRUE(keel::config::parse_bytes("16KiB", b));
    EXPECT_EQ(b, 16384u);
    ASSERT_TRUE(keel::config::parse_bytes("2MB", b));
    EXPECT_EQ(b, 2000000u);
    ASSERT_TRUE(keel::config::parse_bytes("123", b));
    EXPECT_EQ(b, 123u);
    EXPECT_FALSE(keel::config::parse_bytes("12 KiB", b));
    EXPECT_FALSE(keel::config::parse_bytes("KiB", b));
    EXPECT_FALSE(keel::config::parse_bytes("99999999999GiB", b));
}
