#pragma once
/// keel::http::Method: the request methods keel routes on, plus `other` for extension methods
/// (their name stays available as Request::method_name()).

#include <cstdint>
#include <string_view>

namespace keel::http {

enum class Method : std::uint8_t { get, head, post, put, patch, delete_, options, trace, connect, other };

/// Case-sensitive, as methods are (RFC 9110 §9.1).
Method method_from_string(std::string_view name) noexcept;
std::string_view to_string(Method m) noexcept;

}  // namespace keel::http
