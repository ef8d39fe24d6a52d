#pragma once
/// keel::mw::compress: gzip (zlib) or brotli response bodies, negotiated from Accept-Encoding
/// (q-values honoured; brotli preferred at equal q). Only bodies of at least `min_size` bytes
/// with a listed content type are compressed; streamed bodies, HEAD answers, 204/304 and
/// responses that already have a Content-Encoding are left alone. Adds
/// `Vary: Accept-Encoding` whenever the answer could have differed.

#include <keel/http/middleware.hpp>

#include <string>
#include <vector>

namespace keel::mw {

struct CompressOptions {
    std::size_t min_size = 1024;
    /// Prefixes of compressible media types.
    std::vector<std::string> content_types = {
        "text/",           "application/json", "application/problem+json", "application/javascript",
        "application/xml", "image/svg+xml"};
    int gzip_level = 5;      ///< 1-9
    int brotli_quality = 4;  ///< 0-11
};

http::Middleware compress(CompressOptions options = {});

}  // namespace keel::mw
