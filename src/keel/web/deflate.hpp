#pragma once
// Internal to the web module: permessage-deflate (RFC 7692) on zlib's raw deflate. The server
// compresses each message on its own (server_no_context_takeover), with a small window (a
// smaller window than negotiated is always decodable), so a connection's compressor holds
// ~12 KiB; the decompressor keeps the client's 32 KiB window unless the client agreed to
// reset it. Both are made on first use.

#include <zlib.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace keel::web::detail {

class MessageDeflate {
  public:
    explicit MessageDeflate(bool client_resets_context) : client_resets_(client_resets_context) {}
    ~MessageDeflate();
    MessageDeflate(const MessageDeflate&) = delete;
    MessageDeflate& operator=(const MessageDeflate&) = delete;

    /// `in` compressed as one message's payload (without the 00 00 FF FF tail); false on a zlib error.
    bool compress(std::string_view in, std::string& out);

    enum class Inflated { ok, corrupt, too_large };
    /// A compressed message's payload inflated into `out`, at most `limit` bytes.
    Inflated decompress(std::string_view in, std::size_t limit, std::string& out);

  private:
    bool client_resets_;
    std::unique_ptr<z_stream> deflater_;
    std::unique_ptr<z_stream> inflater_;
};

}  // namespace keel::web::detail
