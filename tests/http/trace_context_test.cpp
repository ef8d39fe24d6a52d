// W3C traceparent: what is accepted, what is refused, and what is sent on.
#include <keel/http/query.hpp>
#include <keel/http/trace_context.hpp>

#include <gtest/gtest.h>

namespace {

using keel::http::parse_traceparent;

TEST(TraceContext, ParsesAValidHeader) {
    auto t = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(t->parent_id[0], 0x00);
    EXPECT_EQ(t->parent_id[7], 0xb7);
    EXPECT_EQ(t->flags, 1);
    EXPECT_TRUE(parse_traceparent("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 "));
}

TEST(TraceContext, RefusesInvalidHeaders) {
    const char* bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // uppercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // extra field in version 00
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // bad version
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",    // separators
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",    // misplaced dash
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",    // bad flags
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",   // future version, bad suffix
    };
    for (const char* h : bad) {
        EXPECT_FALSE(parse_traceparent(h)) << h;
    }
}

TEST(TraceContext, AcceptsFutureVersionsByTheirFirstFields) {
    auto t = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(TraceContext, ContinuesATraceWithANewSpan) {
    auto in = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    auto next = keel::http::continue_trace(*in);
    EXPECT_EQ(next.trace_id, in->trace_id);
    EXPECT_NE(next.span_id, in->parent_id);
    std::string out = next.traceparent();
    EXPECT_EQ(out.substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
    EXPECT_EQ(out.substr(36, 16), next.span_id_hex());
    EXPECT_EQ(out.substr(52), "-01");
    auto round_trip = parse_traceparent(out);
    ASSERT_TRUE(round_trip);
    EXPECT_EQ(round_trip->parent_id, next.span_id);
    auto fresh = keel::http::new_trace();
    EXPECT_NE(fresh.trace_id, in->trace_id);
    EXPECT_TRUE(parse_traceparent(fresh.traceparent()));
}

}  // namespace
