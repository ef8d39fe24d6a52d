#pragma once
/// keel::log::Logger: structured JSON-lines logging, asynchronous. A call formats the line on
/// the calling thread into a reused buffer and appends it to that thread's batch; batches go to
/// a background writer thread through a bounded queue (when full, the oldest batches are dropped
/// and counted, so a loop thread never blocks on log I/O). A batch leaves at 16 KiB, at once for
/// warnings and errors, at flush(), and at the latest 20 ms after its first line.
///
///     log.info("listening", {{"addr", "127.0.0.1:8080"}, {"threads", 2}});
///     // → {"ts":"2026-11-29T19:30:00.123Z","level":"info","msg":"listening","addr":"127.0.0.1:8080","threads":2}
///
/// There is no global logger: keel::App owns one and passes it where it is needed.

#include <keel/core/result.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace keel::log {

enum class Level : std::uint8_t { trace, debug, info, warn, error, off };

Result<Level> parse_level(std::string_view name) noexcept;
std::string_view to_string(Level level) noexcept;

/// One key/value of a log line. Strings are copied into the line at the call.
struct Field {
    using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;

    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, bool v) : key(k), value(v) {}
    Field(std::string_view k, double v) : key(k), value(v) {}
    template <class I, class = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>>
    Field(std::string_view k, I v) : key(k) {
        if constexpr (std::is_signed_v<I>) {
            value = static_cast<std::int64_t>(v);
        } else {
            value = static_cast<std::uint64_t>(v);
        }
    }

    std::string_view key = {};
    Value value = {};
};

struct LoggerOptions {
    Level level = Level::info;
    /// "stderr", "stdout", or a file path (appended to).
    std::string output = "stderr";
    /// Batches of lines (up to 16 KiB each) waiting for the writer thread before the oldest
    /// are dropped.
    std::size_t queue_size = 1024;
    /// Receives every formatted line instead of `output` (tests); called on the writer thread.
    std::function<void(std::string_view line)> sink = {};
};

class Logger {
  public:
    explicit Logger(LoggerOptions options = {});
    /// Flushes what is queued.
    ~Logger();
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    bool enabled(Level level) const noexcept { return level >= level_ && level != Level::off; }
    void set_level(Level level) noexcept { level_ = level; }

    void log(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
    void debug(std::string_view msg, std::initializer_list<Field> fields = {}) { log(Level::debug, msg, fields); }
    void info(std::string_view msg, std::initializer_list<Field> fields = {}) { log(Level::info, msg, fields); }
    void warn(std::string_view msg, std::initializer_list<Field> fields = {}) { log(Level::warn, msg, fields); }
    void error(std::string_view msg, std::initializer_list<Field> fields = {}) { log(Level::error, msg, fields); }

    /// Writes a pre-formatted JSON object line as is (for middleware that builds its own).
    void write_line(Level level, std::string_view json_line);

    /// Blocks until every queued line is written.
    void flush();
    /// Lines dropped because the queue was full (exact after flush()).
    std::uint64_t dropped() const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Level level_;
};

}  // namespace keel::log
