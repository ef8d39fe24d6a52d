#include <keel/testing/recorder.hpp>

#include <keel/core/loop.hpp>

#include <strings.h>
#include <unistd.h>
#include <stdexcept>

namespace keel::testing {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Collects a streamed body in memory.
class CollectingWriter final : public http::BodyWriter {
  public:
    explicit CollectingWriter(std::string& out) : out_(out) {}
    Task<bool> write(std::string_view data) override {
        out_.append(data);
        co_return true;
    }
    StopToken stop_token() const noexcept override { return {}; }

  private:
    std::string& out_;
};

// Runs a coroutine to completion on a private loop on this thread.
template <class T>
std::optional<T> run_on_loop(Task<T> task, WorkerPool* workers) {
    Loop loop(workers);
    std::optional<T> out;
    std::exception_ptr error;
    loop.defer([&] {
        spawn(std::move(task), [&](std::optional<T> v, std::exception_ptr e) {
            out = std::move(v);
            error = e;
            loop.stop();
        });
    });
    loop.run();
    if (error) {
        std::rethrow_exception(error);
    }
    return out;
}

void run_on_loop(Task<void> task, WorkerPool* workers) {
    Loop loop(workers);
    std::exception_ptr error;
    loop.defer([&] {
        spawn(std::move(task), [&](std::exception_ptr e) {
            error = e;
            loop.stop();
        });
    });
    loop.run();
    if (error) {
        std::rethrow_exception(error);
    }
}

}  // namespace

std::optional<std::string> RecordedResponse::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (iequals(n, name)) {
            return v;
        }
    }
    return std::nullopt;
}

RecordedResponse call(const http::Handler& handler, const TestRequest& t, WorkerPool* workers) {
    // The request goes through the real parser, so the handler sees what a server would give it.
    std::string raw = t.method + " " + t.target + (t.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    bool has_host = false;
    bool has_length = false;
    for (const auto& [n, v] : t.headers) {
        has_host = has_host || iequals(n, "host");
        has_length = has_length || iequals(n, "content-length") || iequals(n, "transfer-encoding");
        raw += n + ": " + v + "\r\n";
    }
    if (!has_host && t.version_minor == 1) {
        raw += "Host: keel.test\r\n";
    }
    if (!has_length && !t.body.empty()) {
        raw += "Content-Length: " + std::to_string(t.body.size()) + "\r\n";
    }
    raw += "\r\n";

    std::vector<http::Header> headers;
    http::RequestHead head;
    head.headers = &headers;
    http::ParserLimits limits;
    limits.max_header_bytes = raw.size() + 1;
    limits.max_uri_bytes = raw.size() + 1;
    limits.max_headers = t.headers.size() + 2;
    limits.max_body_bytes = UINT64_MAX;
    auto parsed = http::parse_request_head(raw.data(), raw.size(), head, limits);
    if (parsed.status != http::ParseStatus::complete) {
        throw std::invalid_argument("keel::testing: invalid test request: " +
                                    std::string(http::describe(parsed.error)));
    }
    http::Request req;
    req.assign(head, t.body, nullptr);
    StopSource stop;
    req.set_stop_source(&stop);

    // A coroutine handler that offloads needs a pool: lend it one when the test gave none.
    std::optional<WorkerPool> own_pool;
    http::Response response;
    http::Outcome outcome = handler.invoke(req);
    if (outcome.ready()) {
        response = std::move(outcome.response());
    } else {
        if (workers == nullptr) {
            workers = &own_pool.emplace(WorkerPoolOptions{.threads = 1, .queue_capacity = 64});
        }
        response = std::move(*run_on_loop(outcome.take_task(), workers));
    }

    RecordedResponse rec;
    rec.status = response.status();
    rec.close_requested = response.wants_close();
    std::string_view block = response.header_block();
    while (!block.empty()) {
        std::size_t eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        std::size_t colon = line.find(':');
        rec.headers.emplace_back(std::string(line.substr(0, colon)),
                                 std::string(colon + 2 <= line.size() ? line.substr(colon + 2) : ""));
        block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    }
    if (response.is_stream()) {
        CollectingWriter writer(rec.body);
        run_on_loop(response.stream_body()(writer), workers);
    } else if (response.has_file_body()) {
        const http::Response::FileRange& f = response.file();
        rec.body.resize(f.length);
        ssize_t n = ::pread(f.fd, rec.body.data(), f.length, static_cast<off_t>(f.offset));
        rec.body.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    } else {
        rec.body = std::string(response.body_view());
    }
    return rec;
}

}  // namespace keel::testing
