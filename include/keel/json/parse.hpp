#pragma once
/// Parsing JSON text into a struct declared with KEEL_JSON (describe.hpp), with validation.
/// Every problem is collected, not just the first: type errors, missing and unknown members,
/// and the type's own rules (`keel_validate(const T&, Validator&)`, found by ADL), in one list:
///
///     CreateLink in;
///     json::Errors errors;
///     if (!json::parse(text, in, errors)) { /* malformed: errors[0] names the byte offset */ }
///     else if (!errors.empty()) { /* [{"/url", "is required"}, {"/slug", "must be ..."}] */ }
///
/// Rules: a member that is not std::optional or Nullable is required; null is accepted only for
/// those; integers must be integral and fit the member's type; enums must be one of their
/// names; unknown members are rejected (ParseOptions::reject_unknown_fields = false ignores
/// them). The validator runs even when members had type errors, but its complaints about a
/// member already reported are dropped, so each field is named once, with its first problem.
///
/// Malformed JSON is a value (the `false` return), never an exception. For requests,
/// keel/http/json.hpp binds a Request's body and answers 415 / 400 problem+json.

#include <keel/json/describe.hpp>
#include <keel/json/member_traits.hpp>
#include <keel/json/nullable.hpp>
#include <keel/json/reader.hpp>
#include <keel/json/validate.hpp>

#include <array>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace keel::json {

struct ParseOptions {
    bool reject_unknown_fields = true;
};

namespace detail {

struct Path {
    std::string pointer = {};
    std::size_t push(std::string_view token) {
        std::size_t mark = pointer.size();
        pointer += '/';
        pointer += pointer_token(token);
        return mark;
    }
    void pop(std::size_t mark) { pointer.resize(mark); }
};

struct Context {
    Errors& errors;
    Path path = {};
    bool reject_unknown = {};
    void error(std::string reason) { errors.push_back({path.pointer, std::move(reason)}); }
};

template <class T>
void read(Reader& r, T& out, Context& ctx);

template <class T>
void read_integer(Reader& r, T& out, Context& ctx) {
    auto range_error = [&] {
        ctx.error("must be an integer between " + std::to_string(std::numeric_limits<T>::min()) + " and " +
                  std::to_string(std::numeric_limits<T>::max()));
    };
    if (r.kind() != Kind::number) {
        range_error();
        return;
    }
    if constexpr (std::is_signed_v<T>) {
        std::int64_t v;
        if (!r.get(v) || v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
            range_error();
            return;
        }
        out = static_cast<T>(v);
    } else {
        std::uint64_t v;
        if (!r.get(v) || v > std::numeric_limits<T>::max()) {
            range_error();
            return;
        }
        out = static_cast<T>(v);
    }
}

template <class T>
void read(Reader& r, T& out, Context& ctx) {
    if constexpr (std::is_same_v<T, bool>) {
        if (!r.get(out)) {
            ctx.error("must be a boolean");
        }
    } else if constexpr (std::is_integral_v<T>) {
        read_integer(r, out, ctx);
    } else if constexpr (std::is_floating_point_v<T>) {
        double d;
        if (r.kind() != Kind::number || !r.get(d)) {
            ctx.error("must be a number");
            return;
        }
        out = static_cast<T>(d);
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (r.kind() != Kind::string || !r.get(out)) {
            ctx.error("must be a string");
        }
    } else if constexpr (may_be_absent<T>) {
        if (r.kind() == Kind::null) {
            out.reset();
            return;
        }
        out.emplace();
        read(r, *out, ctx);
    } else if constexpr (vector_of<T>::value) {
        if (r.kind() != Kind::array) {
            ctx.error("must be an array");
            return;
        }
        out.clear();
        std::size_t index = 0;
        r.for_each_element([&](Reader& element) {
            std::size_t mark = ctx.path.push(std::to_string(index++));
            out.emplace_back();
            read(element, out.back(), ctx);
            ctx.path.pop(mark);
        });
    } else if constexpr (std::is_enum_v<T>) {
        static_assert(DescribedEnum<T>, "declare the enum with KEEL_JSON_ENUM to bind it");
        std::string name;
        auto values = enumerators<T>();
        std::string allowed;
        for (const auto& e : values) {
            allowed += std::string(allowed.empty() ? "" : ", ") + "\"" + e.name + "\"";
        }
        if (r.kind() != Kind::string || !r.get(name)) {
            ctx.error("must be one of " + allowed);
            return;
        }
        for (const auto& e : values) {
            if (name == e.name) {
                out = e.value;
                return;
            }
        }
        ctx.error("must be one of " + allowed);
    } else {
        static_assert(Described<T>, "declare the type with KEEL_JSON to bind it");
        if (r.kind() != Kind::object) {
            ctx.error("must be an object");
            return;
        }
        auto ms = members<T>();
        constexpr std::size_t n = std::tuple_size_v<decltype(ms)>;
        std::array<bool, n> seen{};
        r.for_each_field([&](std::string_view key, Reader& value) {
            bool matched = false;
            std::size_t i = 0;
            std::apply(
                [&](const auto&... m) {
                    (([&] {
                         if (!matched && key == m.name) {
                             matched = true;
                             seen[i] = true;
                             std::size_t mark = ctx.path.push(key);
                             read(value, out.*(m.ptr), ctx);
                             ctx.path.pop(mark);
                         }
                         ++i;
                     }()),
                     ...);
                },
                ms);
            if (!matched && ctx.reject_unknown) {
                std::size_t mark = ctx.path.push(key);
                ctx.error("is not a known field");
                ctx.path.pop(mark);
            }
        });
        std::size_t i = 0;
        std::apply(
            [&](const auto&... m) {
                (([&] {
                     using M = typename std::decay_t<decltype(m)>::type;
                     if (!seen[i] && !may_be_absent<M>) {
                         std::size_t mark = ctx.path.push(m.name);
                         ctx.error("is required");
                         ctx.path.pop(mark);
                     }
                     ++i;
                 }()),
                 ...);
            },
            ms);
    }
}

template <class T>
concept Validatable = requires(const T& t, Validator& v) {
    keel_validate(t, v);
};

}  // namespace detail

/// Parses `json` into `out`, appending every problem to `errors` (see the file comment).
/// Returns false when the JSON is malformed: `errors` then holds one entry whose reason names
/// the byte offset, and `out` is untouched.
template <class T>
bool parse(std::string_view json, T& out, Errors& errors, const ParseOptions& options = {}) {
    detail::Context ctx{errors, {}, options.reject_unknown_fields};
    auto read = read_document(json, [&](Reader& root) { detail::read(root, out, ctx); });
    if (!read) {
        errors.clear();
        errors.push_back(
            {"", "malformed JSON at byte " + std::to_string(read.error().offset) + ": " + read.error().message});
        return false;
    }
    if constexpr (detail::Validatable<T>) {
        // Rules run even after type errors; a field already reported keeps its first reason.
        Errors rules;
        Validator v(rules);
        keel_validate(out, v);
        merge_rule_errors(errors, std::move(rules));
    }
    return true;
}

}  // namespace keel::json
