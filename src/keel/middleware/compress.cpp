#include <keel/http/status.hpp>
#include <keel/middleware/compress.hpp>

#include <brotli/encode.h>
#include <zlib.h>

#include <strings.h>

#include <cstdlib>
#include <cstring>

namespace keel::mw {
namespace {

enum class Coding { identity, gzip, br };

// Picks the best coding the client accepts (RFC 9110 §12.5.3). "*" counts for both.
Coding negotiate(std::string_view accept) {
    double q_gzip = -1, q_br = -1, q_any = -1;
    while (!accept.empty()) {
        std::size_t comma = accept.find(',');
        std::string_view item = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
        std::size_t semi = item.find(';');
        std::string_view name = item.substr(0, semi);
        while (!name.empty() && name.front() == ' ')
            name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ')
            name.remove_suffix(1);
        double q = 1.0;
        if (semi != std::string_view::npos) {
            std::string_view params = item.substr(semi + 1);
            std::size_t qpos = params.find("q=");
            if (qpos != std::string_view::npos) {
                q = std::strtod(std::string(params.substr(qpos + 2)).c_str(), nullptr);
            }
        }
        auto is = [&](const char* n) {
            return name.size() == std::strlen(n) && ::strncasecmp(name.data(), n, name.size()) == 0;
        };
        if (is("gzip") || is("x-gzip")) {
            q_gzip = q;
        } else if (is("br")) {
            q_br = q;
        } else if (is("*")) {
            q_any = q;
        }
    }
    if (q_gzip < 0)
        q_gzip = q_any;
    if (q_br < 0)
        q_br = q_any;
    if (q_br > 0 && q_br >= q_gzip)
        return Coding::br;
    if (q_gzip > 0)
        return Coding::gzip;
    return Coding::identity;
}

bool gzip(std::string_view in, std::string& out, int level) {
    z_stream z{};
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {  // +16: gzip wrapper
        return false;
    }
    out.resize(deflateBound(&z, in.size()));
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return rc == Z_STREAM_END;
}

bool brotli(std::string_view in, std::string& out, int quality) {
    std::size_t size = BrotliEncoderMaxCompressedSize(in.size());
    if (size == 0) {
        return false;
    }
    out.resize(size);
    if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, in.size(),
                               reinterpret_cast<const uint8_t*>(in.data()), &size,
                               reinterpret_cast<uint8_t*>(out.data()))) {
        return false;
    }
    out.resize(size);
    return true;
}

}  // namespace

http::Middleware compress(CompressOptions o) {
    return [o](http::Handler next) {
        return http::wrap(std::move(next), nullptr, [o](http::Request& req, http::Response& res) {
            // Streams, file bodies (sendfile) and ranges (206: the bytes of one coding) pass as they are.
            if (res.is_stream() || res.has_file_body() || res.status() == 206 ||
                !http::status_allows_body(res.status()) || res.header_value("Content-Encoding")) {
                return;
            }
            std::string_view ct = res.header_value("Content-Type").value_or("");
            bool compressible = false;
            for (const std::string& prefix : o.content_types) {
                if (ct.size() >= prefix.size() && ::strncasecmp(ct.data(), prefix.data(), prefix.size()) == 0) {
                    compressible = true;
                }
            }
            if (!compressible) {
                return;
            }
            auto vary = res.header_value("Vary");
            if (!vary) {
                res.header("Vary", "Accept-Encoding");
            } else if (vary->find("Accept-Encoding") == std::string_view::npos) {
                res.set_header("Vary", std::string(*vary) + ", Accept-Encoding");
            }
            std::string_view body = res.body_view();
            if (body.size() < o.min_size || req.method() == http::Method::head) {
                return;
            }
            Coding c = negotiate(req.header("Accept-Encoding").value_or(""));
            if (c == Coding::identity) {
                return;
            }
            std::string out;
            bool ok = c == Coding::gzip ? gzip(body, out, o.gzip_level) : brotli(body, out, o.brotli_quality);
            if (!ok || out.size() >= body.size()) {
                return;  // not worth it
            }
            res.body(out);
            res.set_header("Content-Encoding", c == Coding::gzip ? "gzip" : "br");
        });
    };
}

}  // namespace keel::mw
