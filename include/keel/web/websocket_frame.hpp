#pragma once
/// WebSocket framing (RFC 6455 §5.2): reading a frame's header and writing a server's frames.
/// Pure functions over bytes, so the parser is tested and fuzzed on its own
/// (fuzz/websocket); keel/web/websocket.hpp runs the protocol on top.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel::web {

enum class Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

struct FrameHeader {
    bool fin = false;
    bool rsv1 = false;  ///< permessage-deflate: the message is compressed
    bool rsv2 = false;
    bool rsv3 = false;
    std::uint8_t opcode = 0;  ///< as sent (may be a reserved value: the caller refuses it)
    bool masked = false;
    std::uint8_t mask[4] = {};
    std::uint64_t length = 0;      ///< payload bytes
    std::size_t header_bytes = 0;  ///< 2 to 14
};

enum class FrameParse { complete, incomplete, invalid };

/// Reads the header at the start of `bytes`: complete (out filled), incomplete (need more
/// bytes), or invalid (a 64-bit length with its top bit set).
FrameParse parse_frame_header(std::string_view bytes, FrameHeader& out) noexcept;

/// XORs `n` bytes with the mask, `offset` bytes into the payload.
void unmask(char* data, std::size_t n, const std::uint8_t (&mask)[4], std::size_t offset = 0) noexcept;

/// Appends an unmasked frame header (a server's frames are never masked).
void append_frame_header(std::string& out, Opcode opcode, std::uint64_t length, bool fin = true, bool rsv1 = false);

/// True for a close code an endpoint may send (RFC 6455 §7.4: 1000-1003, 1007-1014, 3000-4999).
bool is_valid_close_code(std::uint16_t code) noexcept;

}  // namespace keel::web
