#include <keel/http/problem.hpp>
#include <keel/json/writer.hpp>

#include <charconv>
#include <cmath>

namespace keel::json {

void write_string(std::string& out, std::string_view s) { http::append_json_string(out, s); }

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
