#include <keel/http/problem.hpp>

#include "simd_scan.hpp"
#include <keel/http/status.hpp>

#include <array>
#include <charconv>

namespace keel::http {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bytes that cannot be copied into a JSON string as they are.
constexpr std::array<bool, 256> make_escape_table() {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) {
        t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
    }
    return t;
}
constexpr auto kNeedsEscape = make_escape_table();
// The same set as (lo, hi) ranges for the SIMD scan, padded to 16 bytes.
alignas(16) constexpr char kEscapeRanges[16] = {'\x00', '\x1f', '"', '"', '\\', '\\', '\x80', '\xff'};

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    std::size_t n = s.size() - i;
    auto cont = [&](std::size_t k) { return (b(k) & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF) {
        return n >= 2 && cont(i + 1) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || !cont(i + 1) || !cont(i + 2)) {
            return 0;
        }
        unsigned char c1 = b(i + 1);
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) {
            return 0;
        }
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) {
            return 0;
        }
        unsigned char c1 = b(i + 1);
        if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    std::size_t i = 0;
    while (i < s.size()) {
        // Copy the longest run that needs no escaping in one go.
        std::size_t run = i;
        if (detail::have_sse42()) {
            run = static_cast<std::size_t>(
                detail::find_in_ranges_sse42(s.data() + i, s.data() + s.size(), kEscapeRanges, 8) - s.data());
        }
        while (run < s.size() && !kNeedsEscape[static_cast<unsigned char>(s[run])]) {
            ++run;
        }
        out.append(s.data() + i, run - i);
        i = run;
        if (i == s.size()) {
            break;
        }
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default: {
                    char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
                    out.append(esc, 6);
                }
            }
            ++i;
            continue;
        }
        std::size_t n = utf8_sequence(s, i);
        if (n == 0) {
            out.append("\\ufffd");
            ++i;
            continue;
        }
        // U+2028 / U+2029 break JavaScript string literals: escape them.
        if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
            out.append(static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029");
        } else {
            out.append(s.data() + i, n);
        }
        i += n;
    }
    out.push_back('"');
}

Response problem(const Problem& p) {
    Response r(p.status);
    r.header("Content-Type", "application/problem+json");
    std::string& b = r.body_buffer();
    b.append("{\"type\":");
    append_json_string(b, p.type);
    b.append(",\"title\":");
    append_json_string(b, p.title.empty() ? reason_phrase(p.status) : p.title);
    b.append(",\"status\":");
    char num[16];
    auto [end, ec] = std::to_chars(num, num + sizeof num, p.status);
    b.append(num, static_cast<std::size_t>(end - num));
    if (!p.detail.empty()) {
        b.append(",\"detail\":");
        append_json_string(b, p.detail);
    }
    if (!p.instance.empty()) {
        b.append(",\"instance\":");
        append_json_string(b, p.instance);
    }
    b.push_back('}');
    return r;
}

}  // namespace keel::http
