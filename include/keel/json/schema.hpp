#pragma once
/// JSON Schemas (2020-12, the dialect of OpenAPI 3.1) for the types keel binds and writes,
/// derived from their KEEL_JSON declarations, so an API's contract cannot drift from its code:
///
///     keel::json::SchemaSet schemas;
///     std::string ref = schemas.of<Signup>();   // {"$ref":"#/components/schemas/Signup"}
///     // schemas.components(): "Signup" → {"type":"object","properties":{...},"required":[...]}
///
/// A struct becomes a named component (members as properties; those not std::optional or
/// Nullable required; unknown properties refused, as binding does); integers carry their C++
/// type's range; enums their names; std::vector an array; Nullable<T> "T or null". The type's
/// keel_validate rules are run once in recording mode on a value whose optional members are all
/// present, so length(), range() and pattern() with a json::Pattern become minLength/maxLength,
/// minimum/maximum and pattern (check() with its own logic cannot be shown).

#include <keel/core/describe.hpp>
#include <keel/json/describe.hpp>
#include <keel/json/member_traits.hpp>
#include <keel/json/nullable.hpp>
#include <keel/json/validate.hpp>
#include <keel/json/writer.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace keel::json {

class SchemaSet {
  public:
    /// T's schema as JSON text: a $ref for a KEEL_JSON struct (its schema added to
    /// components()), the schema itself otherwise.
    template <class T>
    std::string of();

    /// Name → schema (JSON text) of every struct seen, and of any added by hand.
    const std::map<std::string, std::string>& components() const noexcept { return components_; }
    void add_component(const std::string& name, std::string schema) { components_[name] = std::move(schema); }

  private:
    template <class T>
    std::string object_schema();

    std::map<std::string, std::string> components_;
    std::set<std::string> building_;  // structs being described (a recursive type refers to itself)
};

namespace schema_detail {

using detail::nullable_of;
using detail::optional_of;
using detail::vector_of;

/// A value of T with every optional member present (recursively), so that a type's rules
/// guarded by `if (in.x)` run when they are recorded.
template <class T>
void engage(T& value) {
    if constexpr (describe::Described<T>) {
        std::apply(
            [&](const auto&... m) {
                (([&] {
                     using M = typename std::decay_t<decltype(m)>::type;
                     if constexpr (optional_of<M>::value) {
                         (value.*(m.ptr)).emplace();
                         engage(*(value.*(m.ptr)));
                     } else if constexpr (nullable_of<M>::value) {
                         value.*(m.ptr) = typename nullable_of<M>::type{};
                     } else {
                         engage(value.*(m.ptr));
                     }
                 }()),
                 ...);
            },
            describe::members<T>());
    }
}

/// `schema` (an object's JSON text) with `keywords` (",\"k\":v...") added inside it.
std::string with_keywords(std::string schema, const std::string& keywords);

}  // namespace schema_detail

template <class T>
std::string SchemaSet::of() {
    using detail::nullable_of;
    using detail::optional_of;
    using detail::vector_of;
    if constexpr (std::is_same_v<T, bool>) {
        return R"({"type":"boolean"})";
    } else if constexpr (std::is_integral_v<T>) {
        std::string s = R"({"type":"integer")";
        if constexpr (std::is_same_v<T, std::int32_t>) {
            s += R"(,"format":"int32")";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
            s += R"(,"format":"int64")";
        }
        return s + ",\"minimum\":" + std::to_string(std::numeric_limits<T>::min()) +
               ",\"maximum\":" + std::to_string(std::numeric_limits<T>::max()) + "}";
    } else if constexpr (std::is_floating_point_v<T>) {
        return R"({"type":"number"})";
    } else if constexpr (std::is_same_v<T, std::string>) {
        return R"({"type":"string"})";
    } else if constexpr (optional_of<T>::value) {
        return of<typename optional_of<T>::type>();
    } else if constexpr (nullable_of<T>::value) {
        return R"({"anyOf":[)" + of<typename nullable_of<T>::type>() + R"(,{"type":"null"}]})";
    } else if constexpr (vector_of<T>::value) {
        return R"({"type":"array","items":)" + of<typename vector_of<T>::type>() + "}";
    } else if constexpr (std::is_enum_v<T>) {
        static_assert(detail::DescribedEnum<T>, "declare the enum with KEEL_JSON_ENUM to describe it");
        std::string s = R"({"type":"string","enum":[)";
        bool first = true;
        for (const auto& e : detail::enumerators<T>()) {
            s += first ? "" : ",";
            write_string(s, e.name);
            first = false;
        }
        return s + "]}";
    } else {
        static_assert(detail::Described<T>, "declare the type with KEEL_JSON to describe it");
        std::string name = describe::type_name<T>();
        if (!components_.contains(name) && !building_.contains(name)) {
            building_.insert(name);
            components_[name] = object_schema<T>();
            building_.erase(name);
        }
        return R"({"$ref":"#/components/schemas/)" + name + "\"}";
    }
}

template <class T>
std::string SchemaSet::object_schema() {
    SchemaHints hints;
    if constexpr (requires(const T& t, Validator& v) { keel_validate(t, v); }) {
        T probe{};
        schema_detail::engage(probe);
        Errors ignored;
        Validator recorder(ignored, &hints);
        keel_validate(probe, recorder);
    }
    std::string properties, required;
    std::apply(
        [&](const auto&... m) {
            (([&] {
                 using M = typename std::decay_t<decltype(m)>::type;
                 std::string schema = of<M>();
                 if (auto h = hints.find("/" + pointer_token(m.name)); h != hints.end()) {
                     schema = schema_detail::with_keywords(std::move(schema), h->second);
                 }
                 properties += properties.empty() ? "" : ",";
                 write_string(properties, m.name);
                 properties += ":" + schema;
                 if constexpr (!detail::may_be_absent<M>) {
                     required += required.empty() ? "" : ",";
                     write_string(required, m.name);
                 }
             }()),
             ...);
        },
        describe::members<T>());
    std::string s = R"({"type":"object","properties":{)" + properties + "}";
    if (!required.empty()) {
        s += R"(,"required":[)" + required + "]";
    }
    return s + R"(,"additionalProperties":false})";
}

}  // namespace keel::json
