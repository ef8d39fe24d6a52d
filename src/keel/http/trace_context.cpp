#include <keel/http/trace_context.hpp>

#include <random>

namespace keel::http {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& bytes) {
    std::string out;
    out.reserve(N * 2);
    for (std::uint8_t b : bytes) {
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

int nibble(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;  // uppercase is invalid in traceparent
}

template <std::size_t N>
bool read_hex(std::string_view s, std::array<std::uint8_t, N>& out) {
    if (s.size() != N * 2) {
        return false;
    }
    bool nonzero = false;
    for (std::size_t i = 0; i < N; ++i) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
        nonzero |= out[i] != 0;
    }
    return nonzero;
}

template <std::size_t N>
void fill_random(std::array<std::uint8_t, N>& out) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    do {
        for (std::size_t i = 0; i < N; i += 8) {
            std::uint64_t r = rng();
            for (std::size_t j = 0; j < 8 && i + j < N; ++j) {
                out[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
            }
        }
    } while (out == std::array<std::uint8_t, N>{});
}

}  // namespace

std::string TraceContext::trace_id_hex() const {
    return hex(trace_id);
}
std::string TraceContext::span_id_hex() const {
    return hex(span_id);
}

std::string TraceContext::traceparent() const {
    std::string out = "00-" + hex(trace_id) + "-" + hex(span_id) + "-";
    out += kHex[flags >> 4];
    out += kHex[flags & 15];
    return out;
}

std::optional<TraceContext> parse_traceparent(std::string_view v) {
    // Surrounding whitespace is allowed by HTTP field syntax.
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
    }
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
        v.remove_suffix(1);
    }
    if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') {
        return std::nullopt;
    }
    int v_hi = nibble(v[0]), v_lo = nibble(v[1]);
    if (v_hi < 0 || v_lo < 0) {
        return std::nullopt;
    }
    int version = v_hi << 4 | v_lo;
    if (version == 0xff) {
        return std::nullopt;
    }
    if (version == 0 && v.size() != 55) {
        return std::nullopt;
    }
    if (version > 0 && v.size() > 55 && v[55] != '-') {
        return std::nullopt;
    }
    TraceContext t;
    if (!read_hex(v.substr(3, 32), t.trace_id) || !read_hex(v.substr(36, 16), t.parent_id)) {
        return std::nullopt;
    }
    int f_hi = nibble(v[53]), f_lo = nibble(v[54]);
    if (f_hi < 0 || f_lo < 0) {
        return std::nullopt;
    }
    t.flags = static_cast<std::uint8_t>(f_hi << 4 | f_lo);
    return t;
}

TraceContext new_trace() {
    TraceContext t;
    fill_random(t.trace_id);
    fill_random(t.span_id);
    t.flags = 1;
    return t;
}

TraceContext continue_trace(const TraceContext& incoming) {
    TraceContext t = incoming;
    fill_random(t.span_id);
    return t;
}

}  // namespace keel::http
