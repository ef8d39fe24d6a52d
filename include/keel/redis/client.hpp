#pragma once
/// keel::redis::Client: Redis from coroutines, on hiredis' async API driven by keel's loops.
///
///     keel::redis::Client redis({.host = "127.0.0.1", .port = 6379});
///     auto r = co_await redis.command("SET", key, value, "EX", "60");
///     if (!r) log(r.error().message());               // Errc::unavailable, timeout
///     else if (r->is_error()) log(r->str);              // a Redis error reply
///
/// - One connection per loop, made on first use. Commands sent while earlier ones are in flight
///   are pipelined on it (Redis answers in order).
/// - `timeout` bounds each command; a command that times out closes the connection (its
///   replies could no longer be matched) and the next command reconnects.
/// - While Redis is down, reconnecting backs off (doubling from reconnect_min to
///   reconnect_max); commands in that window fail at once with Errc::unavailable.
///
/// Thread rules: command() is awaited on a loop thread. Destroy the client while its loops run.

#include <keel/core/loop.hpp>
#include <keel/core/per_loop.hpp>
#include <keel/core/result.hpp>
#include <keel/core/task.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace keel::redis {

struct Reply {
    enum class Type { string, integer, nil, array, status, error };
    Type type = Type::nil;
    std::string str = {};  ///< string, status and error replies
    long long integer = 0;
    std::vector<Reply> elements = {};

    bool is_error() const noexcept { return type == Type::error; }
    bool is_nil() const noexcept { return type == Type::nil; }
};

struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    /// Sent as AUTH [username] password on every connection (and reconnection) when set;
    /// username needs Redis 6 ACLs. A refused AUTH or SELECT fails the connection with Redis'
    /// answer (Errc::unavailable "redis: AUTH refused: WRONGPASS ...") and backs off.
    std::string username = {};
    std::string password = {};
    /// SELECTed on every connection when not 0.
    int db = 0;
    Duration timeout = std::chrono::milliseconds(500);
    Duration reconnect_min = std::chrono::milliseconds(50);
    Duration reconnect_max = std::chrono::seconds(2);
};

struct Stats {
    std::uint64_t commands = 0;
    std::uint64_t errors = 0;  ///< unavailable or timed out (not Redis error replies)
    std::uint64_t connects = 0;
};

/// Options from a URL: `redis://[[username]:password@]host[:port][/db]` (port 6379, db 0 by
/// default; username and password percent-decoded; an IPv6 host in brackets). `rediss://`
/// (TLS) is refused with a reason: Debian 12's hiredis 0.14 has no TLS. Errc::invalid_argument
/// with a message that never repeats the password.
Result<Options> parse_url(std::string_view url);

class Client {
  public:
    explicit Client(Options options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Task<Result<Reply>> command(std::vector<std::string> args);
    /// The same with the arguments listed, each anything a string_view can be made from. Use
    /// this form inside a co_await: GCC 12 cannot compile a braced list there ("array used as
    /// initializer"), so `co_await redis.command({"GET", key})` does not build with it.
    template <class... A>
    requires(sizeof...(A) > 0 &&
             (std::is_convertible_v<const A&, std::string_view> && ...)) Task<Result<Reply>> command(const A&... args) {
        return command(std::vector<std::string>{std::string(std::string_view(args))...});
    }
    Stats stats() const;
    const Options& options() const noexcept { return options_; }

    class Connection;  // one per loop (private)

    struct Counters {
        std::atomic<std::uint64_t> commands{0}, errors{0}, connects{0};
    };

  private:
    Options options_;
    std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
    PerLoop<Connection> connections_;  // last: connections use the members above
};

}  // namespace keel::redis
