#pragma once
/// keel::json::Reader: a view of a parsed JSON value (simdjson's DOM parser underneath, which
/// validates the whole document, UTF-8 included, and picks its SIMD kernel at run time; kept
/// out of this header). bind.hpp walks it into structs; it is public so that hand-written
/// readers can use it too.

#include <keel/core/result.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace keel::json {

enum class Kind { object, array, string, number, boolean, null };
std::string_view to_string(Kind k) noexcept;

class Reader {
  public:
    virtual ~Reader() = default;
    virtual Kind kind() = 0;
    /// Each returns false when the value is not of that type (or, for integers, out of range).
    virtual bool get(std::string& out) = 0;
    virtual bool get(std::int64_t& out) = 0;
    virtual bool get(std::uint64_t& out) = 0;
    virtual bool get(double& out) = 0;
    virtual bool get(bool& out) = 0;
    /// Calls fn for each member, in document order, with its unescaped key.
    virtual void for_each_field(const std::function<void(std::string_view key, Reader& value)>& fn) = 0;
    virtual void for_each_element(const std::function<void(Reader& value)>& fn) = 0;
};

/// Why a document could not be read: where and what (simdjson's message).
struct MalformedJson {
    std::size_t offset = 0;
    std::string message = {};
};

/// Parses `json` and calls fn with the root value. Malformed input (including trailing content
/// after the root value) is returned as MalformedJson with the byte offset, and fn is not called.
Result<void, MalformedJson> read_document(std::string_view json, const std::function<void(Reader& root)>& fn);

/// True when `text` is valid UTF-8 (simdjson's SIMD validator: WebSocket text messages use it).
bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace keel::json
