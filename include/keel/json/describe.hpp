#pragma once
/// Declaring a C++ type's JSON shape once, for both reading (bind.hpp) and writing (writer.hpp):
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

#include <keel/json/writer.hpp>

#include <array>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace keel::json::detail {

template <class T, class M>
struct Member {
    const char* name = {};
    M T::*ptr;
    using type = M;
};

template <class E>
struct Enumerator {
    E value;
    const char* name = {};
};

template <class T>
concept Described = requires { keel_json_members(static_cast<const T*>(nullptr)); };

template <class T>
concept DescribedEnum = std::is_enum_v<T> && requires { keel_json_enum(static_cast<const T*>(nullptr)); };

template <class T>
auto members() {
    return keel_json_members(static_cast<const T*>(nullptr));
}

template <class T>
auto enumerators() {
    return keel_json_enum(static_cast<const T*>(nullptr));
}

}  // namespace keel::json::detail

#define KEEL_JSON_DETAIL_EXPAND(x) x
#define KEEL_JSON_DETAIL_FE_1(m, t, x) m(t, x)
#define KEEL_JSON_DETAIL_FE_2(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_1(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_3(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_2(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_4(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_3(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_5(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_4(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_6(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_5(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_7(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_6(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_8(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_7(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_9(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_8(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_10(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_9(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_11(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_10(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_12(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_11(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_13(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_12(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_14(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_13(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_15(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_14(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_16(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_15(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_17(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_16(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_18(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_17(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_19(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_18(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_20(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_19(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_21(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_20(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_22(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_21(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_23(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_22(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_24(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_23(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_25(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_24(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_26(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_25(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_27(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_26(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_28(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_27(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_29(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_28(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_30(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_29(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_31(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_30(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_32(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_31(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_33(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_32(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_34(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_33(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_35(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_34(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_36(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_35(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_37(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_36(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_38(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_37(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_39(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_38(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_FE_40(m, t, x, ...) m(t, x), KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_FE_39(m, t, __VA_ARGS__))
#define KEEL_JSON_DETAIL_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, _33, _34, _35, _36, _37, _38, _39, _40, NAME, ...) NAME
#define KEEL_JSON_DETAIL_FOR_EACH(m, t, ...) \
    KEEL_JSON_DETAIL_EXPAND(KEEL_JSON_DETAIL_PICK(__VA_ARGS__, KEEL_JSON_DETAIL_FE_40, KEEL_JSON_DETAIL_FE_39, KEEL_JSON_DETAIL_FE_38, KEEL_JSON_DETAIL_FE_37, KEEL_JSON_DETAIL_FE_36, KEEL_JSON_DETAIL_FE_35, KEEL_JSON_DETAIL_FE_34, KEEL_JSON_DETAIL_FE_33, KEEL_JSON_DETAIL_FE_32, KEEL_JSON_DETAIL_FE_31, KEEL_JSON_DETAIL_FE_30, KEEL_JSON_DETAIL_FE_29, KEEL_JSON_DETAIL_FE_28, KEEL_JSON_DETAIL_FE_27, KEEL_JSON_DETAIL_FE_26, KEEL_JSON_DETAIL_FE_25, KEEL_JSON_DETAIL_FE_24, KEEL_JSON_DETAIL_FE_23, KEEL_JSON_DETAIL_FE_22, KEEL_JSON_DETAIL_FE_21, KEEL_JSON_DETAIL_FE_20, KEEL_JSON_DETAIL_FE_19, KEEL_JSON_DETAIL_FE_18, KEEL_JSON_DETAIL_FE_17, KEEL_JSON_DETAIL_FE_16, KEEL_JSON_DETAIL_FE_15, KEEL_JSON_DETAIL_FE_14, KEEL_JSON_DETAIL_FE_13, KEEL_JSON_DETAIL_FE_12, KEEL_JSON_DETAIL_FE_11, KEEL_JSON_DETAIL_FE_10, KEEL_JSON_DETAIL_FE_9, KEEL_JSON_DETAIL_FE_8, KEEL_JSON_DETAIL_FE_7, KEEL_JSON_DETAIL_FE_6, KEEL_JSON_DETAIL_FE_5, KEEL_JSON_DETAIL_FE_4, KEEL_JSON_DETAIL_FE_3, KEEL_JSON_DETAIL_FE_2, KEEL_JSON_DETAIL_FE_1)(m, t, __VA_ARGS__))

#define KEEL_JSON_DETAIL_MEMBER(T, f) ::keel::json::detail::Member<T, decltype(T::f)>{#f, &T::f}
#define KEEL_JSON_DETAIL_ENUMERATOR(E, e) ::keel::json::detail::Enumerator<E>{E::e, #e}

/// Declares the JSON members of struct `Type` (use at namespace scope, in Type's namespace).
#define KEEL_JSON(Type, ...)                                                                        \
    [[maybe_unused]] inline auto keel_json_members(const Type*) {                                   \
        return std::make_tuple(KEEL_JSON_DETAIL_FOR_EACH(KEEL_JSON_DETAIL_MEMBER, Type, __VA_ARGS__)); \
    }

/// Declares the string names of enum `Enum`'s values (use in Enum's namespace).
#define KEEL_JSON_ENUM(Enum, ...)                                                                     \
    [[maybe_unused]] inline auto keel_json_enum(const Enum*) {                                        \
        return std::array{KEEL_JSON_DETAIL_FOR_EACH(KEEL_JSON_DETAIL_ENUMERATOR, Enum, __VA_ARGS__)}; \
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
