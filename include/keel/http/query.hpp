#pragma once
/// keel::http::query_param: the raw value of one parameter of a query string ("limit=20&x=1"),
/// the first when repeated; an empty view for "name" or "name="; nullopt when absent. Values
/// are not percent-decoded (opaque tokens and numbers need no decoding).

#include <optional>
#include <string_view>

namespace keel::http {

std::optional<std::string_view> query_param(std::string_view query, std::string_view name) noexcept;

}  // namespace keel::http
