#pragma once
/// Reading a request's query string ("limit=20&q=caf%C3%A9+au+lait"). Values are
/// percent-decoded, '+' read as a space as HTML forms encode it. Names match exactly (after
/// decoding). For a struct of typed parameters, see bind_query in keel/web/form.hpp.
///
///     auto limit = keel::http::query_scalar(req.query(), "limit");   // Result<optional<string>>
///     if (!limit) return keel::http::problem(400, limit.error().message());   // repeated or bad %XX

#include <keel/core/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace keel::http {

/// Decodes one query component: %XX escapes and '+' as a space. nullopt on a malformed escape.
std::optional<std::string> decode_query_component(std::string_view s);

/// The decoded value of the first parameter called `name` ("" for "name" or "name="); nullopt
/// when absent or when its value is malformed.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

/// For a parameter that is one value: nullopt when absent, the decoded value when it appears
/// once, and Errc::invalid_argument when it is repeated ("must appear at most once") or
/// malformed ("has a malformed percent-escape"). `?limit=5&limit=7` is a client mistake, not a
/// choice to make silently.
Result<std::optional<std::string>> query_scalar(std::string_view query, std::string_view name);

}  // namespace keel::http
