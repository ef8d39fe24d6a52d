#include <keel/json/writer.hpp>
#include <keel/observe/log.hpp>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/base_sink.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

namespace keel::log {

Result<Level> parse_level(std::string_view n) noexcept {
    if (n == "trace")
        return Level::trace;
    if (n == "debug")
        return Level::debug;
    if (n == "info")
        return Level::info;
    if (n == "warn" || n == "warning")
        return Level::warn;
    if (n == "error")
        return Level::error;
    if (n == "off")
        return Level::off;
    return Error(Errc::invalid_argument, "log level must be trace, debug, info, warn, error or off");
}

std::string_view to_string(Level l) noexcept {
    switch (l) {
        case Level::trace:
            return "trace";
        case Level::debug:
            return "debug";
        case Level::info:
            return "info";
        case Level::warn:
            return "warn";
        case Level::error:
            return "error";
        case Level::off:
            return "off";
    }
    return "info";
}

namespace {

// Writes each (already formatted) line plus '\n'; counts lines so flush() can wait for them.
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    LineSink(std::FILE* file, bool owns, std::function<void(std::string_view)> callback)
        : file_(file), owns_(owns), callback_(std::move(callback)) {
        if (file_ && owns_) {
            std::setvbuf(file_, nullptr, _IOFBF, 64 * 1024);  // one write per batch (flushed below)
        }
    }
    ~LineSink() override {
        if (owns_ && file_) {
            std::fclose(file_);
        }
    }
    std::atomic<std::uint64_t> written{0};  // batches
    std::atomic<std::uint64_t> written_lines{0};

  protected:
    // A message is a batch of lines separated by '\n' (without the last one).
    void sink_it_(const spdlog::details::log_msg& msg) override {
        std::string_view text(msg.payload.data(), msg.payload.size());
        if (callback_) {
            for (std::size_t start = 0; start <= text.size();) {
                std::size_t end = text.find('\n', start);
                if (end == std::string_view::npos) {
                    end = text.size();
                }
                callback_(text.substr(start, end - start));
                start = end + 1;
            }
        } else if (file_) {
            std::fwrite(text.data(), 1, text.size(), file_);
            std::fputc('\n', file_);
            std::fflush(file_);  // a batch is written whole, at once
        }
        written_lines.fetch_add(1 + static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n')),
                                std::memory_order_relaxed);
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

// Same escaping as every JSON keel writes (control characters, U+2028/9, invalid UTF-8).
void append_escaped(std::string& out, std::string_view s) {
    json::write_string(out, s);
}

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

// Lines are gathered per thread and handed to the writer in batches: one queue operation (and
// at most one wake-up of the writer thread) per batch instead of per line. A batch goes when
// it reaches kBatchBytes, when a warning or an error is logged (never delayed), at flush(),
// and every kTick from the ticker thread, so a quiet thread's lines wait at most that long.
constexpr std::size_t kBatchBytes = 16 * 1024;
constexpr auto kTick = std::chrono::milliseconds(20);

struct Batch {
    std::mutex mu;
    std::string text;
};

struct Logger::Impl {
    std::uint64_t id;  // tells this logger's per-thread batches from a later logger's
    std::shared_ptr<spdlog::details::thread_pool> pool;
    std::shared_ptr<LineSink> sink;
    std::shared_ptr<spdlog::async_logger> logger;
    std::atomic<std::uint64_t> posted{0};  // batches
    std::atomic<std::uint64_t> posted_lines{0};
    std::mutex batches_mu;
    std::vector<std::shared_ptr<Batch>> batches;
    std::mutex tick_mu;
    std::condition_variable tick_cv;
    bool stopping = false;
    std::thread ticker;

    Batch& batch_of_this_thread() {
        thread_local std::vector<std::pair<std::uint64_t, std::shared_ptr<Batch>>> mine;
        for (auto& [owner, b] : mine) {
            if (owner == id) {
                return *b;
            }
        }
        auto b = std::make_shared<Batch>();
        {
            std::lock_guard lock(batches_mu);
            batches.push_back(b);
        }
        mine.emplace_back(id, b);
        return *b;
    }

    void post(std::string& text) {
        if (text.empty()) {
            return;
        }
        posted_lines.fetch_add(static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n')),
                               std::memory_order_relaxed);
        text.pop_back();  // the sink ends the batch with its own newline
        posted.fetch_add(1, std::memory_order_relaxed);
        logger->log(spdlog::level::info, spdlog::string_view_t(text.data(), text.size()));
        text.clear();
    }

    void drain_all() {
        std::vector<std::shared_ptr<Batch>> all;
        {
            std::lock_guard lock(batches_mu);
            all = batches;
        }
        std::string text;
        for (auto& b : all) {
            {
                std::lock_guard lock(b->mu);
                text.swap(b->text);
            }
            post(text);
        }
    }
};

Logger::Logger(LoggerOptions options) : impl_(std::make_unique<Impl>()), level_(options.level) {
    static std::atomic<std::uint64_t> next_id{1};
    impl_->id = next_id.fetch_add(1);
    std::FILE* file = stderr;
    bool owns = false;
    if (!options.sink) {
        if (options.output == "stderr") {
            // A descriptor of our own: code that points fd 2 elsewhere for a moment (the CPU
            // profiler's statistics, captured by /debug/pprof/profile) does not take the log along.
            int fd = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
            std::FILE* own = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
            if (own) {
                file = own;
                owns = true;
            } else if (fd >= 0) {
                ::close(fd);
            }
        } else if (options.output == "stdout") {
            file = stdout;
        } else {
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
    Impl* impl = impl_.get();
    impl_->ticker = std::thread([impl] {
        std::unique_lock lock(impl->tick_mu);
        while (!impl->tick_cv.wait_for(lock, kTick, [impl] { return impl->stopping; })) {
            lock.unlock();
            impl->drain_all();
            lock.lock();
        }
    });
}

Logger::~Logger() {
    {
        std::lock_guard lock(impl_->tick_mu);
        impl_->stopping = true;
    }
    impl_->tick_cv.notify_one();
    impl_->ticker.join();
    flush();
    impl_->logger.reset();
    impl_->pool.reset();  // joins the writer thread
}

void Logger::write_line(Level level, std::string_view line) {
    Batch& b = impl_->batch_of_this_thread();
    thread_local std::string ready;
    {
        std::lock_guard lock(b.mu);  // uncontended but for the ticker's brief visits
        b.text.append(line);
        b.text.push_back('\n');
        if (level >= Level::warn || b.text.size() >= kBatchBytes) {
            ready.swap(b.text);
        }
    }
    impl_->post(ready);
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
    impl_->drain_all();
    // Wait until every posted batch was written or dropped, then flush the file.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (impl_->sink->written.load(std::memory_order_acquire) + impl_->pool->overrun_counter() <
               impl_->posted.load(std::memory_order_relaxed) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    impl_->sink->flush();
}

std::uint64_t Logger::dropped() const noexcept {
    // Lines lost: exact once every batch posted was written or dropped (after flush()); while
    // batches are still queued, the batches dropped so far (a lower bound).
    std::uint64_t overrun = impl_->pool->overrun_counter();
    if (impl_->sink->written.load(std::memory_order_acquire) + overrun >=
        impl_->posted.load(std::memory_order_relaxed)) {
        return impl_->posted_lines.load(std::memory_order_relaxed) -
               impl_->sink->written_lines.load(std::memory_order_relaxed);
    }
    return overrun;
}

}  // namespace keel::log
