// WebSocket framing: headers of every length form, split anywhere; masks; what a server writes.
#include <keel/web/websocket_frame.hpp>

#include <gtest/gtest.h>

using keel::web::FrameHeader;
using keel::web::FrameParse;
using keel::web::Opcode;

TEST(WebSocketFrame, EveryLengthFormRoundTripsAndIsIncompleteWhenCut) {
    for (std::uint64_t length : {0ull, 1ull, 125ull, 126ull, 65535ull, 65536ull, (1ull << 40)}) {
        std::string frame;
        keel::web::append_frame_header(frame, Opcode::binary, length, false, true);
        EXPECT_EQ(frame.size(), length < 126 ? 2u : length <= 65535 ? 4u : 10u) << length;
        FrameHeader h;
        ASSERT_EQ(keel::web::parse_frame_header(frame, h), FrameParse::complete) << length;
        EXPECT_EQ(h.length, length);
        EXPECT_FALSE(h.fin);
        EXPECT_TRUE(h.rsv1);
        EXPECT_EQ(h.opcode, 2);
        EXPECT_FALSE(h.masked);
        EXPECT_EQ(h.header_bytes, frame.size());
        for (std::size_t cut = 0; cut < frame.size(); ++cut) {
            EXPECT_EQ(keel::web::parse_frame_header(std::string_view(frame).substr(0, cut), h), FrameParse::incomplete);
        }
    }
}

TEST(WebSocketFrame, MaskedClientFramesAndTheTopBitOfALength) {
    // RFC 6455 §5.7: a masked "Hello".
    const std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    FrameHeader h;
    ASSERT_EQ(keel::web::parse_frame_header(frame, h), FrameParse::complete);
    EXPECT_TRUE(h.fin);
    EXPECT_TRUE(h.masked);
    EXPECT_EQ(h.length, 5u);
    EXPECT_EQ(h.header_bytes, 6u);
    std::string payload = frame.substr(6);
    keel::web::unmask(payload.data(), 2, h.mask);
    keel::web::unmask(payload.data() + 2, 3, h.mask, 2);  // in two pieces, the mask continues
    EXPECT_EQ(payload, "Hello");
    EXPECT_EQ(keel::web::parse_frame_header(std::string("\x82\x85\x37\xfa", 4), h), FrameParse::incomplete);
    EXPECT_EQ(keel::web::parse_frame_header(std::string("\x82\x7f\x80\0\0\0\0\0\0\0", 10), h), FrameParse::invalid);
}

TEST(WebSocketFrame, CloseCodesAnEndpointMaySend) {
    for (std::uint16_t ok : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014, 3000, 4999}) {
        EXPECT_TRUE(keel::web::is_valid_close_code(ok)) << ok;
    }
    for (std::uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000}) {
        EXPECT_FALSE(keel::web::is_valid_close_code(bad)) << bad;
    }
}
