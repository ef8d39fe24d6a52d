#include <keel/http/problem.hpp>
#include <keel/observe/log.hpp>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

namespace keel::log {

Result<Level> parse_level(std::string_view n) noexcept {
    if (n == "trace") return Level::trace;
    if (n == "debug") return Level::debug;
    if (n == "info") return Level::info;
    if (n == "warn" || n == "warning") return Level::warn;
    if (n == "error") return Level::error;
    if (n == "off") return Level::off;
    return Error(Errc::invalid_argument, "log level must be trace, debug, info, warn, error or off");
}

std::string_view to_string(Level l) noexcept {
    switch (l) {
        case Level::trace: return "trace";
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
        case Level::off: return "off";
    }
    return "info";
}

namespace {

// Writes each (already formatted) line plus '\n'; counts lines so flush() can wait for them.
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    LineSink(std::FILE* file, bool owns, std::function<void(std::string_view)> callback)
        : file_(file), owns_(owns), callback_(std::move(callback)) {}
    ~LineSink() override {
        if (owns_ && file_) {
            std::fclose(file_);
        }
    }
    std::atomic<std::uint64_t> written{0};

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        std::string_view line(msg.payload.data(), msg.payload.size());
        if (callback_) {
            callback_(line);
        } else if (file_) {
            std::fwrite(line.data(), 1, line.size(), file_);
            std::fputc('\n', file_);
        }
        written.fetch_add(1, std::memory_order_release);
    }
    void flush_() override {
        if (file_) {
            std::fflush(file_);
        }
    }

private:
    std::FILE* file_;
    bool owns_;
    std::function<void(std::string_view)> callback_;
};

spdlog::level::level_enum to_spd(Level l) {
    switch (l) {
        case Level::trace: return spdlog::level::trace;
        case Level::debug: return spdlog::level::debug;
        case Level::info: return spdlog::level::info;
        case Level::warn: return spdlog::level::warn;
        case Level::error: return spdlog::level::err;
        case Level::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

// Same escaping as every JSON keel writes (control characters, U+2028/9, invalid UTF-8).
void append_escaped(std::string& out, std::string_view s) { http::append_json_string(out, s); }

// RFC 3339 UTC with milliseconds; the date/time part is re-formatted once per second per thread.
void append_timestamp(std::string& out) {
    thread_local std::time_t cached_second = -1;
    thread_local char cached[32];
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::time_t sec = static_cast<std::time_t>(ms / 1000);
    if (sec != cached_second) {
        std::tm tm;
        ::gmtime_r(&sec, &tm);
        std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = sec;
    }
    out.append(cached);
    char frac[5] = {'.', static_cast<char>('0' + ms % 1000 / 100), static_cast<char>('0' + ms % 100 / 10),
                    static_cast<char>('0' + ms % 10), 'Z'};
    out.append(frac, 5);
}

}  // namespace

struct Logger::Impl {
    std::shared_ptr<spdlog::details::thread_pool> pool;
    std::shared_ptr<LineSink> sink;
    std::shared_ptr<spdlog::async_logger> logger;
    std::atomic<std::uint64_t> posted{0};
};

Logger::Logger(LoggerOptions options) : impl_(std::make_unique<Impl>()), level_(options.level) {
    std::FILE* file = stderr;
    bool owns = false;
    if (!options.sink) {
        if (options.output == "stdout") {
            file = stdout;
        } else if (options.output != "stderr") {
            file = std::fopen(options.output.c_str(), "ae");
            if (!file) {
                throw std::runtime_error("keel: cannot open log output \"" + options.output + "\"");
            }
            owns = true;
        }
    }
    impl_->sink = std::make_shared<LineSink>(file, owns, std::move(options.sink));
    impl_->pool = std::make_shared<spdlog::details::thread_pool>(options.queue_size, 1);
    impl_->logger = std::make_shared<spdlog::async_logger>("keel", impl_->sink, impl_->pool,
                                                           spdlog::async_overflow_policy::overrun_oldest);
    impl_->logger->set_pattern("%v");
    impl_->logger->set_level(spdlog::level::trace);  // filtering happens in enabled()
}

Logger::~Logger() {
    flush();
    impl_->logger.reset();
    impl_->pool.reset();  // joins the writer thread
}

void Logger::write_line(Level level, std::string_view line) {
    impl_->posted.fetch_add(1, std::memory_order_relaxed);
    impl_->logger->log(to_spd(level), spdlog::string_view_t(line.data(), line.size()));
}

void Logger::log(Level level, std::string_view msg, std::initializer_list<Field> fields) {
    if (!enabled(level)) {
        return;
    }
    thread_local std::string line;
    line.clear();
    line.append("{\"ts\":\"");
    append_timestamp(line);
    line.append("\",\"level\":\"");
    line.append(to_string(level));
    line.append("\",\"msg\":");
    append_escaped(line, msg);
    for (const Field& f : fields) {
        line.push_back(',');
        append_escaped(line, f.key);
        line.push_back(':');
        std::visit(
            [&](const auto& v) {
                using V = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<V, std::string_view>) {
                    append_escaped(line, v);
                } else if constexpr (std::is_same_v<V, bool>) {
                    line.append(v ? "true" : "false");
                } else {
                    char buf[32];
                    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
                    line.append(buf, static_cast<std::size_t>(end - buf));
                }
            },
            f.value);
    }
    line.push_back('}');
    write_line(level, line);
}

void Logger::flush() {
    // Wait until every posted line was written or dropped, then flush the file.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (impl_->sink->written.load(std::memory_order_acquire) + impl_->pool->overrun_counter() <
               impl_->posted.load(std::memory_order_relaxed) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    impl_->sink->flush();
}

std::uint64_t Logger::dropped() const noexcept { return impl_->pool->overrun_counter(); }

}  // namespace keel::log
