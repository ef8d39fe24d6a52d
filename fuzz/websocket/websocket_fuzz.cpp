// libFuzzer target for the WebSocket protocol as the server runs it: the input is what a client
// sends after the handshake (in pieces of 1..16 bytes, the first byte says how big), fed to a
// real keel::web::WebSocket (with permessage-deflate on) through a stream that records what the
// server writes (websocket_session.cpp: coroutine code, built without the fuzzer's
// instrumentation, which clang 14 cannot apply to it under UBSan). Whatever arrives: no crash,
// no message over the limit, every text message UTF-8, and everything the server writes parses
// as unmasked, well-formed frames.
#include <keel/web/websocket_frame.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

std::string run_websocket_session(std::string_view input, std::size_t piece);  // websocket_session.cpp

namespace {

void check_server_frames(std::string_view out) {
    while (!out.empty()) {
        keel::web::FrameHeader h;
        if (keel::web::parse_frame_header(out, h) != keel::web::FrameParse::complete || h.masked ||
            out.size() - h.header_bytes < h.length) {
            std::abort();
        }
        out.remove_prefix(h.header_bytes + static_cast<std::size_t>(h.length));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    std::string written =
        run_websocket_session(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), 1 + data[0] % 16);
    check_server_frames(written);
    return 0;
}
