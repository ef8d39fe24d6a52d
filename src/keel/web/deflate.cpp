#include "deflate.hpp"

#include <algorithm>

namespace keel::web::detail {
namespace {

constexpr int kServerWindowBits = 10;  // 1 KiB: the compressor's choice (RFC 7692 §7.1.2.1)
constexpr int kServerMemLevel = 4;
constexpr int kClientWindowBits = 15;  // what the client may use unless it offered less
constexpr unsigned char kTail[4] = {0x00, 0x00, 0xFF, 0xFF};

}  // namespace

MessageDeflate::~MessageDeflate() {
    if (deflater_) {
        deflateEnd(deflater_.get());
    }
    if (inflater_) {
        inflateEnd(inflater_.get());
    }
}

bool MessageDeflate::compress(std::string_view in, std::string& out) {
    if (!deflater_) {
        deflater_ = std::make_unique<z_stream>();
        if (deflateInit2(deflater_.get(), Z_DEFAULT_COMPRESSION, Z_DEFLATED, -kServerWindowBits, kServerMemLevel,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            deflater_.reset();
            return false;
        }
    } else {
        deflateReset(deflater_.get());  // server_no_context_takeover
    }
    z_stream& z = *deflater_;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    std::size_t start = out.size();
    do {
        std::size_t at = out.size();
        std::size_t room = in.size() / 2 + 64;
        out.resize(at + room);
        z.next_out = reinterpret_cast<Bytef*>(out.data() + at);
        z.avail_out = static_cast<uInt>(room);
        int rc = deflate(&z, Z_SYNC_FLUSH);
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            out.erase(start);
            return false;
        }
        out.erase(at + (room - std::min<std::size_t>(z.avail_out, room)));  // keep what deflate wrote
    } while (z.avail_in > 0 || z.avail_out == 0);
    // A sync flush ends with 00 00 FF FF, which the receiver adds back (RFC 7692 §7.2.1).
    if (out.size() - start >= 4 &&
        std::string_view(out).substr(out.size() - 4) == std::string_view("\0\0\xFF\xFF", 4)) {
        out.resize(out.size() - 4);
    }
    return true;
}

MessageDeflate::Inflated MessageDeflate::decompress(std::string_view in, std::size_t limit, std::string& out) {
    if (!inflater_) {
        inflater_ = std::make_unique<z_stream>();
        if (inflateInit2(inflater_.get(), -kClientWindowBits) != Z_OK) {
            inflater_.reset();
            return Inflated::corrupt;
        }
    }
    z_stream& z = *inflater_;
    out.clear();
    bool ended = false;  // the sender closed the deflate stream (a final block): start afresh next time
    for (int part = 0; part < 2 && !ended; ++part) {
        std::string_view input = part == 0 ? in : std::string_view(reinterpret_cast<const char*>(kTail), 4);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
        z.avail_in = static_cast<uInt>(input.size());
        for (;;) {
            char chunk[16 * 1024];
            z.next_out = reinterpret_cast<Bytef*>(chunk);
            z.avail_out = sizeof chunk;
            uInt before = z.avail_in;
            int rc = inflate(&z, Z_SYNC_FLUSH);
            if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) {
                inflateReset(&z);
                return Inflated::corrupt;
            }
            std::size_t produced = sizeof chunk - z.avail_out;
            if (out.size() + produced > limit) {
                inflateReset(&z);
                return Inflated::too_large;  // a decompression bomb stops here
            }
            out.append(chunk, produced);
            if (rc == Z_STREAM_END) {
                ended = true;
                break;
            }
            if ((z.avail_in == 0 && z.avail_out > 0) || (produced == 0 && z.avail_in == before)) {
                break;  // all taken and all out, or no progress possible
            }
        }
    }
    if (ended) {
        inflateReset(&z);
        return Inflated::ok;
    }
    if (client_resets_) {
        inflateReset(&z);
    }
    return Inflated::ok;
}

}  // namespace keel::web::detail
