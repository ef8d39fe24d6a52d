#pragma once
/// keel::http::Response: what a handler returns. Headers are kept pre-serialized and the body
/// in a string; both strings come from a per-thread recycler, so a warm server builds responses
/// without allocating. The server adds Date, Content-Length (or chunked framing) and
/// Connection itself; a Content-Length or Transfer-Encoding set by the handler is ignored, and
/// `Connection: close` asks the server to close after this response.
///
///     return Response::text("Hello, World!");
///     return Response::json(R"({"id":7})", 201).header("Location", "/users/7");

#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>
#include <keel/http/upgrade.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace keel::http {

class BodyWriter;

/// Produces a streamed (chunked) body; see Response::stream.
using StreamBody = std::function<Task<void>(BodyWriter&)>;

class Response {
  public:
    explicit Response(int status = 200);
    ~Response();
    Response(Response&& o) noexcept;
    Response& operator=(Response&& o) noexcept;
    Response(const Response&) = delete;
    Response& operator=(const Response&) = delete;

    /// text/plain; charset=utf-8
    static Response text(std::string_view body, int status = 200);
    /// application/json with an already-encoded JSON body.
    static Response json(std::string_view json, int status = 200);
    /// A body written over time with chunked encoding (close-delimited for HTTP/1.0 clients).
    static Response stream(std::string_view content_type, StreamBody producer, int status = 200);

    int status() const noexcept { return status_; }
    Response& set_status(int status) noexcept {
        status_ = status;
        return *this;
    }

    /// Appends a header. CR and LF in the value are replaced by spaces (no header injection);
    /// a name that is not a token is ignored. On a temporary it returns the temporary, so
    /// `return Response::json(body, 201).header("Location", url);` moves, never copies.
    Response& header(std::string_view name, std::string_view value) &;
    Response&& header(std::string_view name, std::string_view value) && { return std::move(header(name, value)); }
    /// Replaces every header of that name with one value.
    Response& set_header(std::string_view name, std::string_view value) &;
    Response&& set_header(std::string_view name, std::string_view value) && {
        return std::move(set_header(name, value));
    }
    Response& remove_header(std::string_view name);
    /// The first value of header `name`.
    std::optional<std::string_view> header_value(std::string_view name) const noexcept;
    Response& content_type(std::string_view value) & { return set_header("Content-Type", value); }
    Response&& content_type(std::string_view value) && { return std::move(set_header("Content-Type", value)); }
    /// Headers as serialized lines "Name: value\r\n" (for the serializer and for tests).
    std::string_view header_block() const noexcept { return headers_; }

    /// Copies `bytes` as the body.
    Response& body(std::string_view bytes);
    /// Uses `bytes` without copying; they must outlive the response (string literals, statics).
    Response& static_body(std::string_view bytes) noexcept;
    /// The body buffer, to append to directly (JSON writers); switches off a static body.
    std::string& body_buffer();
    std::string_view body_view() const noexcept { return static_body_ ? *static_body_ : std::string_view(body_); }

    /// An open file's bytes [offset, offset + length) as the body: sent with sendfile(2) on
    /// plain TCP, read in pieces over TLS and HTTP/2. The response owns `fd` and closes it.
    Response& file_body(int fd, std::uint64_t offset, std::uint64_t length) noexcept;
    struct FileRange {
        int fd = -1;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    bool has_file_body() const noexcept { return file_.fd >= 0; }
    const FileRange& file() const noexcept { return file_; }
    /// Hands the file over (the caller closes it); the response has no file body after.
    FileRange release_file() noexcept {
        FileRange f = file_;
        file_ = {};
        return f;
    }
    /// The body's length: the file's, or the buffer's (0 for a stream).
    std::uint64_t body_size() const noexcept { return has_file_body() ? file_.length : body_view().size(); }

    /// 101 Switching Protocols: after this head (the caller sets Upgrade; the server adds
    /// Connection: Upgrade) `handler` takes the connection over (keel/http/upgrade.hpp).
    /// HTTP/1.1 only; during a graceful shutdown the server answers 503 instead.
    static Response upgrade(UpgradeHandler handler);
    bool is_upgrade() const noexcept { return static_cast<bool>(upgrade_); }
    UpgradeHandler& upgrade_handler() noexcept { return upgrade_; }

    /// Ask the server to close the connection after this response.
    Response& close_connection() noexcept {
        close_ = true;
        return *this;
    }
    bool wants_close() const noexcept { return close_; }

    bool is_stream() const noexcept { return static_cast<bool>(stream_); }
    StreamBody& stream_body() noexcept { return stream_; }
    /// A stream with no natural end (Server-Sent Events): a graceful shutdown ends it — the
    /// writer's stop token fires — instead of waiting out server.shutdown_timeout for it.
    Response& end_stream_on_shutdown() noexcept {
        end_on_shutdown_ = true;
        return *this;
    }
    bool ends_stream_on_shutdown() const noexcept { return end_on_shutdown_; }

  private:
    int status_;
    bool close_ = false;
    bool end_on_shutdown_ = false;
    std::string headers_;
    std::string body_;
    std::optional<std::string_view> static_body_;
    StreamBody stream_;
    FileRange file_;
    UpgradeHandler upgrade_;
};

/// Writes the chunks of a streamed response. Obtained as the argument of a StreamBody.
class BodyWriter {
  public:
    virtual ~BodyWriter() = default;
    /// Queues `data` as one chunk and waits while the connection's output is above its
    /// high-water mark. Returns false once the client is gone: stop producing.
    virtual Task<bool> write(std::string_view data) = 0;
    /// Fires when the client goes away or the server is forced to stop.
    virtual StopToken stop_token() const noexcept = 0;
};

}  // namespace keel::http
