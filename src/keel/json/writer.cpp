#include <keel/json/writer.hpp>

#include <keel/core/detail/simd_scan.hpp>

#include <array>
#include <charconv>
#include <cmath>

namespace keel::json {

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

void write_string(std::string& out, std::string_view s) {
    out.push_back('"');
    std::size_t i = 0;
    while (i < s.size()) {
        // Copy the longest run that needs no escaping in one go.
        std::size_t run = i;
        if (keel::detail::have_sse42()) {
            run = static_cast<std::size_t>(
                keel::detail::find_in_ranges_sse42(s.data() + i, s.data() + s.size(), kEscapeRanges, 8) - s.data());
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
                case '"':
                    out.append("\\\"");
                    break;
                case '\\':
                    out.append("\\\\");
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                case '\b':
                    out.append("\\b");
                    break;
                case '\f':
                    out.append("\\f");
                    break;
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

void Writer::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    std::uint64_t bit = 1ull << (depth_ & 63);
    if (has_items_ & bit) {
        out_.push_back(',');
    }
    has_items_ |= bit;
}

Writer& Writer::open(char c) {
    separate();
    out_.push_back(c);
    ++depth_;
    has_items_ &= ~(1ull << (depth_ & 63));
    return *this;
}

Writer& Writer::close(char c) {
    --depth_;
    out_.push_back(c);
    return *this;
}

Writer& Writer::key(std::string_view k) {
    separate();
    write_string(out_, k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
}

Writer& Writer::plain_key(std::string_view k) {
    separate();
    out_.push_back('"');
    out_.append(k);
    out_.append("\":", 2);
    after_key_ = true;
    return *this;
}

Writer& Writer::value(std::string_view s) {
    separate();
    write_string(out_, s);
    return *this;
}

Writer& Writer::value(bool b) {
    separate();
    out_.append(b ? "true" : "false");
    return *this;
}

Writer& Writer::value(double d) {
    separate();
    if (!std::isfinite(d)) {
        out_.append("null");
        return *this;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    out_.append(buf, static_cast<std::size_t>(end - buf));
    return *this;
}

Writer& Writer::write_int(std::int64_t i) {
    separate();
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, i);
    out_.append(buf, static_cast<std::size_t>(end - buf));
    return *this;
}

Writer& Writer::write_uint(std::uint64_t i) {
    separate();
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, i);
    out_.append(buf, static_cast<std::size_t>(end - buf));
    return *this;
}

Writer& Writer::null() {
    separate();
    out_.append("null");
    return *this;
}

Writer& Writer::raw(std::string_view json) {
    separate();
    out_.append(json);
    return *this;
}

}  // namespace keel::json
