#include <keel/core/sleep.hpp>
#include <keel/web/sse.hpp>

#include <algorithm>
#include <charconv>

namespace keel::web {
namespace {

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    for (char c : value) {
        if (c != '\r' && c != '\n') {
            out.push_back(c);
        }
    }
    out.push_back('\n');
}

}  // namespace

std::string format_sse_event(const SseEvent& e) {
    std::string out;
    out.reserve(e.data.size() + e.id.size() + e.event.size() + 32);
    if (!e.id.empty()) {
        append_field(out, "id", e.id);
    }
    if (!e.event.empty()) {
        append_field(out, "event", e.event);
    }
    if (e.retry) {
        append_field(out, "retry", std::to_string(e.retry->count()));
    }
    // Every line of data is its own data: field (CRLF, CR and LF all end a line).
    std::size_t start = 0;
    for (std::size_t i = 0; i <= e.data.size(); ++i) {
        if (i == e.data.size() || e.data[i] == '\n' || e.data[i] == '\r') {
            out.append("data: ");
            out.append(e.data.substr(start, i - start));
            out.push_back('\n');
            if (i + 1 < e.data.size() && e.data[i] == '\r' && e.data[i + 1] == '\n') {
                ++i;
            }
            start = i + 1;
        }
    }
    out.push_back('\n');
    return out;
}

Task<bool> SseWriter::send(const SseEvent& e) {
    std::string frame = format_sse_event(e);
    co_return co_await out_.write(frame);
}

Task<bool> SseWriter::comment(std::string_view text) {
    std::string line = ":";
    if (!text.empty()) {
        line.push_back(' ');
        for (char c : text) {
            line.push_back(c == '\r' || c == '\n' ? ' ' : c);
        }
    }
    line.append("\n\n");
    co_return co_await out_.write(line);
}

Task<bool> SseWriter::wait(Duration d) {
    auto beat = std::chrono::duration_cast<Duration>(options_.heartbeat);
    while (d > Duration::zero()) {
        Duration step = beat > Duration::zero() ? std::min(d, beat) : d;
        if (!co_await sleep_for(step, out_.stop_token())) {
            co_return false;
        }
        d -= step;
        if (d > Duration::zero() && !co_await comment()) {
            co_return false;
        }
    }
    co_return !out_.stop_token().stop_requested();
}

http::Response sse(std::function<Task<void>(SseWriter&)> producer, SseOptions options) {
    http::Response r = http::Response::stream(
        "text/event-stream", [producer = std::move(producer), options](http::BodyWriter& w) -> Task<void> {
            SseWriter out(w, options);
            co_await producer(out);
        });
    r.header("Cache-Control", "no-cache");
    r.header("X-Accel-Buffering", "no");  // nginx and friends: do not buffer the stream
    r.end_stream_on_shutdown();
    return r;
}

std::optional<std::string_view> last_event_id(const http::Request& req) {
    return req.header("Last-Event-ID");
}

std::optional<std::int64_t> last_event_id_number(const http::Request& req) {
    auto id = last_event_id(req);
    if (!id || id->empty()) {
        return std::nullopt;
    }
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(id->data(), id->data() + id->size(), v);
    if (ec != std::errc() || end != id->data() + id->size() || v < 0) {
        return std::nullopt;
    }
    return v;
}

}  // namespace keel::web
