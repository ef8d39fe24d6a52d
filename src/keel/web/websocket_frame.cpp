#include <keel/web/websocket_frame.hpp>

namespace keel::web {

FrameParse parse_frame_header(std::string_view bytes, FrameHeader& out) noexcept {
    if (bytes.size() < 2) {
        return FrameParse::incomplete;
    }
    auto b0 = static_cast<std::uint8_t>(bytes[0]);
    auto b1 = static_cast<std::uint8_t>(bytes[1]);
    out.fin = (b0 & 0x80) != 0;
    out.rsv1 = (b0 & 0x40) != 0;
    out.rsv2 = (b0 & 0x20) != 0;
    out.rsv3 = (b0 & 0x10) != 0;
    out.opcode = b0 & 0x0F;
    out.masked = (b1 & 0x80) != 0;
    std::uint64_t length = b1 & 0x7F;
    std::size_t at = 2;
    if (length == 126 || length == 127) {
        std::size_t n = length == 126 ? 2 : 8;
        if (bytes.size() < at + n) {
            return FrameParse::incomplete;
        }
        length = 0;
        for (std::size_t i = 0; i < n; ++i) {
            length = length << 8 | static_cast<std::uint8_t>(bytes[at + i]);
        }
        at += n;
        if (n == 8 && (length >> 63) != 0) {
            return FrameParse::invalid;
        }
    }
    if (out.masked) {
        if (bytes.size() < at + 4) {
            return FrameParse::incomplete;
        }
        for (int i = 0; i < 4; ++i) {
            out.mask[i] = static_cast<std::uint8_t>(bytes[at + static_cast<std::size_t>(i)]);
        }
        at += 4;
    }
    out.length = length;
    out.header_bytes = at;
    return FrameParse::complete;
}

void unmask(char* data, std::size_t n, const std::uint8_t (&mask)[4], std::size_t offset) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        data[i] = static_cast<char>(static_cast<std::uint8_t>(data[i]) ^ mask[(offset + i) & 3]);
    }
}

void append_frame_header(std::string& out, Opcode opcode, std::uint64_t length, bool fin, bool rsv1) {
    out += static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<std::uint8_t>(opcode));
    if (length < 126) {
        out += static_cast<char>(length);
    } else if (length <= 0xFFFF) {
        out += static_cast<char>(126);
        out += static_cast<char>(length >> 8);
        out += static_cast<char>(length & 0xFF);
    } else {
        out += static_cast<char>(127);
        for (int shift = 56; shift >= 0; shift -= 8) {
            out += static_cast<char>((length >> shift) & 0xFF);
        }
    }
}

bool is_valid_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

}  // namespace keel::web
