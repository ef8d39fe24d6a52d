#pragma once
/// keel::web::static_files: a handler serving the files under one directory, like Go's
/// http.FileServer with nginx's care:
///
///     router.get("/static/{path...}", keel::web::static_files("/srv/www", {.strip_prefix = "/static"}));
///
/// - GET and HEAD (405 otherwise). Small files are read into the response; larger ones go out
///   with sendfile(2) (read in pieces over TLS and HTTP/2).
/// - Validators: a strong ETag (mtime and size) and Last-Modified; If-None-Match and
///   If-Modified-Since answer 304.
/// - Ranges: one range is a 206 with Content-Range, several a multipart/byteranges 206 (up to
///   memory_body_bytes built in memory, larger ones streamed from the file as the client reads),
///   If-Range honoured; unsatisfiable ranges a 416; ranges that overlap past the file's size,
///   or more than max_ranges of them, are ignored (a 200), so a range request cannot make the
///   server send more than the file.
/// - Precompressed siblings: with `precompressed`, "app.js.br" or "app.js.gz" is sent for
///   "app.js" when the client accepts it (Content-Encoding, Vary, an ETag of its own).
/// - Safety: the path is percent-decoded, then opened with openat2(RESOLVE_BENEATH) under the
///   root: ".." and symlinks that lead outside the root cannot resolve (404), dot-files are
///   404 unless serve_hidden, anything but a regular file is 404, a directory is its index
///   file (a 301 adds the missing '/'), never a listing. Content-Type comes from the extension,
///   with X-Content-Type-Options: nosniff.
///
/// Opening and reading are plain system calls on the loop thread (page cache), as nginx does
/// without aio; put files on local storage.

#include <keel/http/handler.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace keel::web {

struct StaticOptions {
    std::string strip_prefix = {};              ///< URL prefix mapped to the root ("/static")
    std::string index = "index.html";           ///< a directory's file; "" = directories are 404
    bool precompressed = true;                  ///< look for .br / .gz siblings
    bool serve_hidden = false;                  ///< serve names starting with '.'
    std::string cache_control = {};             ///< e.g. "public, max-age=3600"; "" = none
    std::size_t memory_body_bytes = 64 * 1024;  ///< files up to this are read into the response
    std::size_t max_ranges = 16;
};

/// The handler (throws std::system_error when `root` is not a directory it can open).
http::Handler static_files(const std::string& root, StaticOptions options = {});

/// The Content-Type keel gives a file name's extension ("application/octet-stream" when unknown).
std::string_view content_type_for(std::string_view filename) noexcept;

}  // namespace keel::web
