#include <keel/web/static_files.hpp>

#include <keel/core/percent.hpp>
#include <keel/http/date.hpp>
#include <keel/http/problem.hpp>

#include <keel/http/detail/byte_classes.hpp>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

namespace keel::web {
namespace {

/// An open file, closed unless released into a Response.
class OpenFile {
  public:
    explicit OpenFile(int fd = -1) : fd_(fd) {}
    ~OpenFile() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    OpenFile(OpenFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    OpenFile& operator=(OpenFile&& o) noexcept {
        std::swap(fd_, o.fd_);
        return *this;
    }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }

  private:
    int fd_;
};

/// Opens `relative` (no leading '/') beneath `root`; errno on failure.
int open_beneath(int root, const std::string& relative) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;  // O_NONBLOCK: a FIFO must not hang us
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (;;) {
        long fd = ::syscall(SYS_openat2, root, relative.empty() ? "." : relative.c_str(), &how, sizeof how);
        if (fd >= 0 || errno != EINTR) {
            return static_cast<int>(fd);
        }
    }
}

struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t length = 0;
};

enum class RangeVerdict { none, ranges, unsatisfiable };

/// RFC 9110 §14.1.2 "bytes=" ranges against a file of `size` bytes. `none` means serve the
/// whole file: no Range, another unit, bad syntax, too many ranges, or ranges that would add
/// up to more than the file (overlap amplification).
RangeVerdict parse_ranges(std::string_view header, std::uint64_t size, std::size_t max_ranges,
                          std::vector<ByteRange>& out) {
    if (!header.starts_with("bytes=")) {
        return RangeVerdict::none;
    }
    header.remove_prefix(6);
    std::uint64_t total = 0;
    std::size_t specs = 0;
    auto number = [](std::string_view s, std::uint64_t& v) {
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
    };
    while (!header.empty()) {
        std::size_t comma = header.find(',');
        std::string_view spec = http::detail::trim_ows(header.substr(0, comma));
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        if (spec.empty()) {
            continue;
        }
        if (++specs > max_ranges) {
            return RangeVerdict::none;
        }
        std::size_t dash = spec.find('-');
        if (dash == std::string_view::npos) {
            return RangeVerdict::none;
        }
        std::uint64_t first = 0, last = 0;
        std::size_t before = out.size();
        if (dash == 0) {  // "-N": the last N bytes ("-0" selects nothing)
            if (!number(spec.substr(1), last)) {
                return RangeVerdict::none;
            }
            std::uint64_t n = std::min(last, size);
            if (n > 0) {
                out.push_back({size - n, n});
            }
        } else {
            if (!number(spec.substr(0, dash), first)) {
                return RangeVerdict::none;
            }
            std::string_view rest = spec.substr(dash + 1);
            if (rest.empty()) {
                last = size == 0 ? 0 : size - 1;
            } else if (!number(rest, last) || last < first) {
                return RangeVerdict::none;
            }
            if (first < size) {
                last = std::min(last, size - 1);
                out.push_back({first, last - first + 1});
            }
        }
        if (out.size() > before) {
            total += out.back().length;
            if (total > size) {
                return RangeVerdict::none;
            }
        }
    }
    if (specs == 0) {
        return RangeVerdict::none;
    }
    return out.empty() ? RangeVerdict::unsatisfiable : RangeVerdict::ranges;
}

/// True when an If-None-Match list matches `etag` (weak comparison, "*" matches anything).
bool none_match(std::string_view list, std::string_view etag) {
    while (!list.empty()) {
        std::size_t comma = list.find(',');
        std::string_view tag = http::detail::trim_ows(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (tag == "*") {
            return true;
        }
        if (tag.starts_with("W/")) {
            tag.remove_prefix(2);
        }
        if (tag == etag) {
            return true;
        }
    }
    return false;
}

/// True when Accept-Encoding names `coding` with a q-value above 0.
bool accepts_coding(std::string_view accept, std::string_view coding) {
    while (!accept.empty()) {
        std::size_t comma = accept.find(',');
        std::string_view item = http::detail::trim_ows(accept.substr(0, comma));
        accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
        std::size_t semi = item.find(';');
        if (!http::detail::iequals(http::detail::trim_ows(item.substr(0, semi)), coding)) {
            continue;
        }
        if (semi == std::string_view::npos) {
            return true;
        }
        std::string_view q = http::detail::trim_ows(item.substr(semi + 1));
        // "q=0", "q=0.", "q=0.000" refuse the coding; anything else accepts it.
        if (q.starts_with("q=") || q.starts_with("Q=")) {
            q.remove_prefix(2);
            return q.find_first_not_of("0.") != std::string_view::npos;
        }
        return true;
    }
    return false;
}

std::string hex(std::uint64_t v) {
    char buf[17];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
    return std::string(buf, end);
}

struct Served {
    OpenFile file;
    struct stat st {};
    std::string_view encoding;  // "", "br" or "gzip"
};

class StaticFiles {
  public:
    StaticFiles(const std::string& root, StaticOptions options) : options_(std::move(options)) {
        int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            throw std::system_error(errno, std::generic_category(), "keel: static_files: " + root);
        }
        root_ = OpenFile(fd);
    }

    http::Response serve(http::Request& req) const;

  private:
    http::Response not_found(const http::Request& req) const { return http::problem(404, "no such file", req.path()); }
    http::Response open_error(int err, const http::Request& req) const {
        if (err == EACCES || err == EPERM) {
            return http::problem(403, "the file may not be read", req.path());
        }
        return not_found(req);  // ENOENT, ENOTDIR, EXDEV (outside the root), ELOOP, …
    }
    std::optional<Served> try_sibling(const std::string& relative, std::string_view suffix,
                                      std::string_view coding) const;
    http::Response respond(http::Request& req, Served served, std::string_view name) const;

    OpenFile root_;
    StaticOptions options_;
};

std::optional<Served> StaticFiles::try_sibling(const std::string& relative, std::string_view suffix,
                                               std::string_view coding) const {
    Served s;
    s.file = OpenFile(open_beneath(root_.get(), relative + std::string(suffix)));
    if (s.file.get() < 0 || ::fstat(s.file.get(), &s.st) != 0 || !S_ISREG(s.st.st_mode)) {
        return std::nullopt;
    }
    s.encoding = coding;
    return s;
}

http::Response StaticFiles::serve(http::Request& req) const {
    if (req.method() != http::Method::get && req.method() != http::Method::head) {
        http::Response r = http::problem(405, "only GET and HEAD are allowed here", req.path());
        r.header("Allow", "GET, HEAD");
        return r;
    }
    std::string_view path = req.path();
    if (!path.starts_with(options_.strip_prefix)) {
        return not_found(req);
    }
    std::string_view rest = path.substr(options_.strip_prefix.size());
    while (rest.starts_with('/')) {
        rest.remove_prefix(1);
    }
    std::optional<std::string> decoded = percent_decode(rest, false);
    if (!decoded || decoded->find('\0') != std::string::npos) {
        return http::problem(400, "invalid percent-encoding in the path (or an encoded NUL)", req.path());
    }
    std::string relative = std::move(*decoded);
    // Reject "." and ".." outright (RESOLVE_BENEATH would refuse escapes anyway), and dot-files.
    for (std::size_t at = 0; at <= relative.size();) {
        std::size_t slash = relative.find('/', at);
        std::string_view segment =
            std::string_view(relative).substr(at, slash == std::string::npos ? std::string::npos : slash - at);
        if (segment == "." || segment == ".." || (!options_.serve_hidden && segment.starts_with('.'))) {
            return not_found(req);
        }
        if (slash == std::string::npos) {
            break;
        }
        at = slash + 1;
    }
    bool wants_directory = relative.empty() || relative.back() == '/';
    if (wants_directory) {
        if (options_.index.empty()) {
            return not_found(req);
        }
        relative += options_.index;
    }

    Served served;
    served.file = OpenFile(open_beneath(root_.get(), relative));
    if (served.file.get() < 0) {
        return open_error(errno, req);
    }
    if (::fstat(served.file.get(), &served.st) != 0) {
        return not_found(req);
    }
    if (S_ISDIR(served.st.st_mode)) {
        if (wants_directory || options_.index.empty()) {
            return not_found(req);
        }
        // "/docs" is a directory: its relative links need "/docs/".
        http::Response r(301);
        std::string location = std::string(path) + "/";
        if (!req.query().empty()) {
            location += "?" + std::string(req.query());
        }
        r.header("Location", location);
        return r;
    }
    if (!S_ISREG(served.st.st_mode)) {
        return not_found(req);
    }
    if (options_.precompressed) {
        std::string_view accept = req.header("Accept-Encoding").value_or("");
        std::optional<Served> sibling;
        if (accepts_coding(accept, "br")) {
            sibling = try_sibling(relative, ".br", "br");
        }
        if (!sibling && accepts_coding(accept, "gzip")) {
            sibling = try_sibling(relative, ".gz", "gzip");
        }
        if (sibling) {
            served = std::move(*sibling);
        }
    }
    return respond(req, std::move(served), relative);
}

constexpr std::string_view kBoundary = "keel-byteranges-7d3c9a";
constexpr std::string_view kClosingDelimiter = "\r\n--keel-byteranges-7d3c9a--\r\n";

std::string part_head(std::string_view type, const ByteRange& b, std::uint64_t size) {
    std::string head = "\r\n--";
    head += kBoundary;
    head += "\r\nContent-Type: ";
    head += type;
    head += "\r\nContent-Range: bytes " + std::to_string(b.first) + "-" + std::to_string(b.first + b.length - 1) + "/" +
            std::to_string(size) + "\r\n\r\n";
    return head;
}

// A multipart/byteranges body read from the file in pieces; each write waits for the client.
Task<void> stream_byteranges(http::BodyWriter& out, std::shared_ptr<OpenFile> file, std::vector<ByteRange> ranges,
                             std::vector<std::string> heads) {
    constexpr std::size_t kPiece = 64 * 1024;
    std::string piece;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        if (!co_await out.write(heads[i])) {
            co_return;
        }
        std::uint64_t at = ranges[i].first;
        std::uint64_t left = ranges[i].length;
        while (left > 0) {
            piece.resize(static_cast<std::size_t>(std::min<std::uint64_t>(left, kPiece)));
            ssize_t n = ::pread(file->get(), piece.data(), piece.size(), static_cast<off_t>(at));
            if (n <= 0) {
                // The file shrank or failed mid-answer: a normal end would claim a whole body.
                throw std::system_error(n < 0 ? errno : EIO, std::generic_category(), "reading a byte range");
            }
            at += static_cast<std::uint64_t>(n);
            left -= static_cast<std::uint64_t>(n);
            if (!co_await out.write(std::string_view(piece.data(), static_cast<std::size_t>(n)))) {
                co_return;
            }
        }
    }
    co_await out.write(kClosingDelimiter);
}

http::Response StaticFiles::respond(http::Request& req, Served served, std::string_view name) const {
    const std::uint64_t size = static_cast<std::uint64_t>(served.st.st_size);
    const std::int64_t mtime = served.st.st_mtim.tv_sec;
    std::string etag = "\"" + hex(static_cast<std::uint64_t>(mtime)) + "-" + hex(size) +
                       (served.encoding.empty() ? "" : "-" + std::string(served.encoding)) + "\"";
    std::string last_modified = http::format_http_date(mtime);

    auto validators = [&](http::Response& r) {
        r.header("ETag", etag);
        r.header("Last-Modified", last_modified);
        if (!options_.cache_control.empty()) {
            r.header("Cache-Control", options_.cache_control);
        }
        if (options_.precompressed) {
            r.header("Vary", "Accept-Encoding");
        }
    };

    // Conditional requests (RFC 9110 §13.2.2): If-None-Match wins over If-Modified-Since.
    std::optional<std::string_view> inm = req.header("If-None-Match");
    bool not_modified = false;
    if (inm) {
        not_modified = none_match(*inm, etag);
    } else if (auto ims = req.header("If-Modified-Since")) {
        auto since = http::parse_http_date(*ims);
        not_modified = since && mtime <= *since;
    }
    if (not_modified) {
        http::Response r(304);
        validators(r);
        return r;
    }

    std::string_view type = content_type_for(name);
    http::Response r(200);
    r.header("Content-Type", type);
    r.header("X-Content-Type-Options", "nosniff");
    r.header("Accept-Ranges", "bytes");
    validators(r);
    if (!served.encoding.empty()) {
        r.header("Content-Encoding", served.encoding);
    }

    std::vector<ByteRange> ranges;
    RangeVerdict verdict = RangeVerdict::none;
    if (auto range = req.header("Range"); range && req.method() == http::Method::get) {
        auto if_range = req.header("If-Range");
        bool current = !if_range || *if_range == etag || *if_range == last_modified;
        if (current) {
            verdict = parse_ranges(*range, size, options_.max_ranges, ranges);
        }
    }
    if (verdict == RangeVerdict::unsatisfiable) {
        http::Response u = http::problem(416, "the range is outside the file", req.path());
        u.header("Content-Range", "bytes */" + std::to_string(size));
        return u;
    }
    auto read_into = [&](std::string& out, const ByteRange& range) {
        std::size_t at = out.size();
        out.resize(at + range.length);
        ssize_t n = ::pread(served.file.get(), out.data() + at, range.length, static_cast<off_t>(range.first));
        return n == static_cast<ssize_t>(range.length);
    };
    auto read_error = [&] { return http::problem(500, "the file could not be read", req.path()); };

    if (verdict == RangeVerdict::ranges && ranges.size() > 1) {
        // multipart/byteranges (RFC 9110 §14.6): each part with its own Content-Range.
        r.set_status(206);
        r.set_header("Content-Type", "multipart/byteranges; boundary=" + std::string(kBoundary));
        if (req.method() == http::Method::head) {
            return r;
        }
        std::vector<std::string> heads;
        std::uint64_t total = 0;
        for (const ByteRange& b : ranges) {
            heads.push_back(part_head(type, b, size));
            total += b.length;
        }
        if (total > options_.memory_body_bytes) {
            // Streamed from the file a piece at a time, as the client reads (never the whole
            // answer in memory): a tiny request cannot make the server hold megabytes.
            auto file = std::make_shared<OpenFile>(std::move(served.file));
            r.stream_body() = [file, ranges = std::move(ranges), heads = std::move(heads)](http::BodyWriter& out) {
                return stream_byteranges(out, file, ranges, heads);
            };
            return r;
        }
        std::string& body = r.body_buffer();
        for (std::size_t i = 0; i < ranges.size(); ++i) {
            body += heads[i];
            if (!read_into(body, ranges[i])) {
                return read_error();
            }
        }
        body += kClosingDelimiter;
        return r;
    }
    ByteRange whole{0, size};
    if (verdict == RangeVerdict::ranges) {
        whole = ranges.front();
        r.set_status(206);
        r.header("Content-Range", "bytes " + std::to_string(whole.first) + "-" +
                                      std::to_string(whole.first + whole.length - 1) + "/" + std::to_string(size));
    }
    if (req.method() == http::Method::head || whole.length > options_.memory_body_bytes) {
        // HEAD gets the GET's Content-Length; the server sends none of the file.
        r.file_body(served.file.release(), whole.first, whole.length);
        return r;
    }
    if (!read_into(r.body_buffer(), whole)) {
        return read_error();
    }
    return r;
}

struct TypeByExtension {
    std::string_view extension;
    std::string_view type;
};

constexpr std::array<TypeByExtension, 32> kTypes{{
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"yaml", "application/yaml"},
}};

}  // namespace

std::string_view content_type_for(std::string_view filename) noexcept {
    std::size_t slash = filename.rfind('/');
    std::string_view base = slash == std::string_view::npos ? filename : filename.substr(slash + 1);
    std::size_t dot = base.rfind('.');
    if (dot != std::string_view::npos && dot > 0) {
        std::string_view ext = base.substr(dot + 1);
        for (const TypeByExtension& t : kTypes) {
            if (http::detail::iequals(ext, t.extension)) {
                return t.type;
            }
        }
    }
    return "application/octet-stream";
}

http::Handler static_files(const std::string& root, StaticOptions options) {
    auto files = std::make_shared<const StaticFiles>(root, std::move(options));
    return [files](http::Request& req) { return files->serve(req); };
}

}  // namespace keel::web
