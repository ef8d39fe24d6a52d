#pragma once
/// Declaring a C++ type's JSON shape once, for both reading (parse.hpp) and writing (writer.hpp):
///
///     struct Link { std::string url; std::optional<std::string> slug; std::vector<std::string> tags; };
///     KEEL_JSON(Link, url, slug, tags)          // in Link's namespace, after the struct
///
///     enum class Color { red, green };
///     KEEL_JSON_ENUM(Color, red, green)         // written and read as "red" / "green"
///
/// JSON member names are the C++ member names. Supported member types: bool, integers (range
/// checked when read), floating point, std::string, std::optional<T> (absent or null allowed),
/// std::vector<T>, enums declared with KEEL_JSON_ENUM and structs declared with KEEL_JSON. Up to
/// 40 members per type.

#include <keel/core/describe.hpp>
#include <keel/json/writer.hpp>

#include <array>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace keel::json::detail {

template <class E>
struct Enumerator {
    E value;
    const char* name = {};
};

template <class T>
concept Described = describe::Described<T>;

template <class T>
concept DescribedEnum = std::is_enum_v<T> && requires {
    keel_json_enum(static_cast<const T*>(nullptr));
};

template <class T>
auto members() {
    return describe::members<T>();
}

template <class T>
auto enumerators() {
    return keel_json_enum(static_cast<const T*>(nullptr));
}

}  // namespace keel::json::detail

#define KEEL_JSON_DETAIL_ENUMERATOR(E, e) \
    ::keel::json::detail::Enumerator<E> { \
        E::e, #e                          \
    }

/// Declares the JSON members of struct `Type` (use at namespace scope, in Type's namespace).
/// The same declaration as KEEL_DESCRIBE: a type declared with either can be read and written
/// as JSON and scanned from database rows.
#define KEEL_JSON(Type, ...) KEEL_DESCRIBE(Type, __VA_ARGS__)

/// Declares the string names of enum `Enum`'s values (use in Enum's namespace).
#define KEEL_JSON_ENUM(Enum, ...)                                                                \
    [[maybe_unused]] inline auto keel_json_enum(const Enum*) {                                   \
        return std::array{KEEL_DETAIL_FOR_EACH(KEEL_JSON_DETAIL_ENUMERATOR, Enum, __VA_ARGS__)}; \
    }

namespace keel::json {

template <class T, std::enable_if_t<std::is_class_v<T> || std::is_enum_v<T>, int>>
Writer& Writer::value(const T& v) {
    if constexpr (std::is_enum_v<T>) {
        static_assert(detail::DescribedEnum<T>, "declare the enum with KEEL_JSON_ENUM to write it");
        for (const auto& e : detail::enumerators<T>()) {
            if (e.value == v) {
                return value(std::string_view(e.name));
            }
        }
        return null();
    } else {
        static_assert(detail::Described<T>, "declare the type with KEEL_JSON to write it");
        begin_object();
        std::apply([&](const auto&... m) { ((plain_key(m.name), value(v.*(m.ptr))), ...); }, detail::members<T>());
        return end_object();
    }
}

/// Appends `v` as JSON.
template <class T>
void write(std::string& out, const T& v) {
    Writer(out).value(v);
}

/// `v` written as JSON, in a new string.
template <class T>
std::string encode(const T& v) {
    std::string out;
    Writer(out).value(v);
    return out;
}

}  // namespace keel::json
