#pragma once
/// keel::json::Writer: appends JSON to a std::string, allocation-free beyond the string's own
/// growth. Commas are placed automatically; strings are escaped correctly (control characters,
/// quotes, backslashes, U+2028/U+2029, invalid UTF-8 → U+FFFD); doubles use the shortest
/// round-trip form (NaN and infinities become null). Structs declared with KEEL_JSON, vectors
/// and optionals are written by value(). The writer does not check that keys and values
/// alternate properly: that is the caller's contract.
///
///     std::string out;
///     keel::json::Writer w(out);
///     w.begin_object().key("id").value(7).key("tags").begin_array().value("a").end_array().end_object();

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace keel::json {

class Writer {
  public:
    explicit Writer(std::string& out) noexcept : out_(out) {}

    Writer& begin_object() { return open('{'); }
    Writer& end_object() { return close('}'); }
    Writer& begin_array() { return open('['); }
    Writer& end_array() { return close(']'); }
    /// The next value is this member's.
    Writer& key(std::string_view k);
    /// Like key() for names known to need no escaping (C++ identifiers, as KEEL_JSON uses).
    Writer& plain_key(std::string_view k);

    Writer& value(std::string_view s);
    Writer& value(const char* s) { return value(std::string_view(s)); }
    Writer& value(const std::string& s) { return value(std::string_view(s)); }
    Writer& value(bool b);
    Writer& value(double d);
    Writer& value(float f) { return value(static_cast<double>(f)); }
    template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
    Writer& value(I i) {
        if constexpr (std::is_signed_v<I>) {
            return write_int(static_cast<std::int64_t>(i));
        } else {
            return write_uint(static_cast<std::uint64_t>(i));
        }
    }
    Writer& null();
    /// Already-encoded JSON, inserted as one value.
    Writer& raw(std::string_view json);

    template <class T>
    Writer& value(const std::optional<T>& v) {
        return v ? value(*v) : null();
    }
    template <class T>
    Writer& value(const std::vector<T>& v) {
        begin_array();
        for (const auto& x : v) {
            value(x);
        }
        return end_array();
    }
    /// Structs and enums declared with KEEL_JSON / KEEL_JSON_ENUM (see describe.hpp).
    template <class T, std::enable_if_t<std::is_class_v<T> || std::is_enum_v<T>, int> = 0>
    Writer& value(const T& v);

  private:
    Writer& open(char c);
    Writer& close(char c);
    Writer& write_int(std::int64_t i);
    Writer& write_uint(std::uint64_t i);
    void separate();

    std::string& out_;
    std::uint64_t has_items_ = 0;  // bit per nesting level: a comma is needed before the next item
    int depth_ = 0;
    bool after_key_ = false;
};

/// Appends `s` to `out` as a JSON string literal (quotes included), escaping control
/// characters, quotes, backslashes, U+2028/U+2029, and replacing invalid UTF-8 with U+FFFD.
void write_string(std::string& out, std::string_view s);

}  // namespace keel::json
