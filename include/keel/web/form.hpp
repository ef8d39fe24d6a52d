#pragma once
/// Name/value fields — a query string, an application/x-www-form-urlencoded body, the text
/// parts of a multipart form — bound to a struct declared with KEEL_JSON, with the same rules
/// and the same 400 problem+json as JSON bodies (keel/http/json.hpp):
///
///     struct ListQuery { std::optional<int> limit; std::optional<std::string> cursor; std::vector<std::string> tag; };
///     KEEL_JSON(ListQuery, limit, cursor, tag)
///
///     KEEL_TRY(q, keel::web::bind_query<ListQuery>(req));   // ?limit=20&tag=a&tag=b
///
/// Each member's type says how its text is read: std::string as is; integers in decimal,
/// range-checked; bool as true/false, 1/0 or on/off (an HTML checkbox sends "on"); floating
/// point; enums by name; std::optional<T> may be absent; std::vector<T> takes every occurrence
/// of its name (none: empty); any other member must appear exactly once. The type's
/// keel_validate rules run after. Errors point at "/name". Unknown names are errors in forms
/// and ignored in query strings (links pick up tracking and cache-busting parameters);
/// FieldBindOptions changes either. Nested structs cannot come from flat fields (a compile
/// error).

#include <keel/core/result.hpp>
#include <keel/http/problem.hpp>
#include <keel/http/request.hpp>
#include <keel/json/describe.hpp>
#include <keel/json/member_traits.hpp>
#include <keel/json/nullable.hpp>
#include <keel/json/validate.hpp>

#include <charconv>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::web {

struct FormField {
    std::string name;
    std::string value;
};
using FormFields = std::vector<FormField>;

/// Decodes "a=1&b=x+y&flag" (query strings and urlencoded forms: %XX and '+' as space; a name
/// without '=' has the value ""). A malformed escape is an error pointing at the field. Stops
/// after max_fields + 1 fields, so that a caller enforcing max_fields sees there were more
/// without the cost of decoding (and allocating) all of them.
Result<FormFields, json::FieldError> parse_urlencoded(std::string_view text,
                                                      std::size_t max_fields = std::numeric_limits<std::size_t>::max() -
                                                                               1);

/// True for application/x-www-form-urlencoded (parameters ignored).
bool is_urlencoded_content_type(std::string_view content_type) noexcept;

struct FieldBindOptions {
    bool reject_unknown_fields = true;
    /// bind_form: more fields than this is a 413, found before the rest is decoded. (A query
    /// string is bounded by server.max_uri_bytes instead.)
    std::size_t max_fields = 1000;
};

namespace detail {

/// The value type inside std::optional<T> or Nullable<T>.
template <class T>
using absent_or = typename std::conditional_t<json::detail::optional_of<T>::value, json::detail::optional_of<T>,
                                              json::detail::nullable_of<T>>::type;

/// "true"/"false", "1"/"0", "on"/"off" (any case).
std::optional<bool> parse_flag(std::string_view text) noexcept;

/// Reads one scalar from text; false with `reason` set when it does not fit T.
template <class T>
bool read_scalar(std::string_view text, T& out, std::string& reason) {
    if constexpr (std::is_same_v<T, std::string>) {
        out.assign(text);
        return true;
    } else if constexpr (std::is_same_v<T, bool>) {
        auto flag = parse_flag(text);
        if (!flag) {
            reason = "must be true or false";
            return false;
        }
        out = *flag;
        return true;
    } else if constexpr (std::is_integral_v<T>) {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
            reason = "must be an integer between " + std::to_string(std::numeric_limits<T>::min()) + " and " +
                     std::to_string(std::numeric_limits<T>::max());
            return false;
        }
        return true;
    } else if constexpr (std::is_floating_point_v<T>) {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
            reason = "must be a number";
            return false;
        }
        return true;
    } else if constexpr (std::is_enum_v<T>) {
        static_assert(json::detail::DescribedEnum<T>, "declare the enum with KEEL_JSON_ENUM to bind it");
        std::string allowed;
        for (const auto& e : json::detail::enumerators<T>()) {
            if (text == e.name) {
                out = e.value;
                return true;
            }
            allowed += std::string(allowed.empty() ? "" : ", ") + "\"" + e.name + "\"";
        }
        reason = "must be one of " + allowed;
        return false;
    } else {
        static_assert(sizeof(T) == 0,
                      "a form or query field binds to a string, number, bool, enum, or an "
                      "optional or vector of one; nested structs need a JSON body");
        return false;
    }
}

}  // namespace detail

/// Binds `fields` to `out`, appending every problem to `errors` (see the file comment).
template <class T>
void bind_fields(const FormFields& fields, T& out, json::Errors& errors, const FieldBindOptions& options = {}) {
    static_assert(json::detail::Described<T>, "declare the type with KEEL_JSON to bind it");
    auto ms = json::detail::members<T>();
    std::string reason;
    std::apply(
        [&](const auto&... m) {
            (([&] {
                 using M = typename std::decay_t<decltype(m)>::type;
                 std::string pointer = "/" + json::pointer_token(m.name);
                 M& member = out.*(m.ptr);
                 std::size_t count = 0;
                 for (const FormField& f : fields) {
                     if (f.name != m.name) {
                         continue;
                     }
                     if constexpr (json::detail::vector_of<M>::value) {
                         if (count == 0) {
                             member.clear();
                         }
                         member.emplace_back();
                         if (!detail::read_scalar(f.value, member.back(), reason)) {
                             errors.push_back({pointer + "/" + std::to_string(count), reason});
                         }
                     } else if (count == 1) {
                         errors.push_back({pointer, "must appear at most once"});
                     } else if (count == 0) {
                         if constexpr (json::detail::may_be_absent<M>) {
                             detail::absent_or<M> value{};
                             if (detail::read_scalar(f.value, value, reason)) {
                                 member = std::move(value);
                             } else {
                                 errors.push_back({pointer, reason});
                             }
                         } else if (!detail::read_scalar(f.value, member, reason)) {
                             errors.push_back({pointer, reason});
                         }
                     }
                     ++count;
                 }
                 if (count == 0 && !json::detail::vector_of<M>::value && !json::detail::may_be_absent<M>) {
                     errors.push_back({pointer, "is required"});
                 }
             }()),
             ...);
        },
        ms);
    if (options.reject_unknown_fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            bool known = std::apply([&](const auto&... m) { return ((fields[i].name == m.name) || ...); }, ms);
            bool first = true;
            for (std::size_t j = 0; j < i && first; ++j) {
                first = fields[j].name != fields[i].name;
            }
            if (!known && first) {
                errors.push_back({"/" + json::pointer_token(fields[i].name), "is not a known field"});
            }
        }
    }
    if constexpr (requires(const T& t, json::Validator& v) { keel_validate(t, v); }) {
        json::Errors rules;
        json::Validator v(rules);
        keel_validate(out, v);
        json::merge_rule_errors(errors, std::move(rules));
    }
}

/// `fields` as a T, or the 400 Problem listing every bad field (`detail` says which input).
template <class T>
Result<T, http::Problem> bind_fields(const FormFields& fields, std::string_view detail = "the form failed validation",
                                     const FieldBindOptions& options = {}) {
    json::Errors errors;
    T value{};
    bind_fields(fields, value, errors, options);
    if (!errors.empty()) {
        return http::Problem{.status = 400, .detail = std::string(detail), .errors = std::move(errors)};
    }
    return value;
}

/// The request's query string as a T (unknown parameters ignored by default).
template <class T>
Result<T, http::Problem> bind_query(const http::Request& req,
                                    const FieldBindOptions& options = {.reject_unknown_fields = false}) {
    auto fields = parse_urlencoded(req.query());  // bounded by server.max_uri_bytes
    if (!fields) {
        return http::Problem{.status = 400,
                             .detail = "the query string is malformed",
                             .instance = std::string(req.path()),
                             .errors = {fields.error()}};
    }
    return bind_fields<T>(*fields, "the query string failed validation", options);
}

/// An application/x-www-form-urlencoded body as a T (415 for any other Content-Type). For
/// multipart forms and streamed bodies, read the form with keel/web/multipart.hpp and bind
/// its fields with bind_fields.
template <class T>
Result<T, http::Problem> bind_form(const http::Request& req, const FieldBindOptions& options = {}) {
    if (!is_urlencoded_content_type(req.header("Content-Type").value_or(""))) {
        return http::Problem{.status = 415,
                             .detail = "the request body must be a form",
                             .instance = std::string(req.path()),
                             .errors = {{"", "Content-Type must be application/x-www-form-urlencoded"}}};
    }
    auto fields = parse_urlencoded(req.body(), options.max_fields);
    if (!fields) {
        return http::Problem{.status = 400,
                             .detail = "the form is malformed",
                             .instance = std::string(req.path()),
                             .errors = {fields.error()}};
    }
    if (fields->size() > options.max_fields) {
        return http::Problem{.status = 413,
                             .detail = "the form has more than " + std::to_string(options.max_fields) + " fields",
                             .instance = std::string(req.path())};
    }
    return bind_fields<T>(*fields, "the form failed validation", options);
}

}  // namespace keel::web
