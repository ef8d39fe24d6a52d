#pragma once
/// KEEL_DESCRIBE: a struct's members, declared once, for every part of keel that reads or
/// writes a struct field by field — JSON (keel/json/describe.hpp, where KEEL_JSON is the same
/// declaration) and database rows (scanned by column name, keel/db/scan.hpp):
///
///     struct Todo { std::int64_t id = 0; std::string title; bool done = false; };
///     KEEL_DESCRIBE(Todo, id, title, done)     // in Todo's namespace, after the struct
///
/// Names are the C++ member names. Up to 40 members per type. describe::members<T>() returns
/// a tuple of {name, pointer-to-member}; describe::Described<T> tells whether T has one;
/// describe::type_name<T>() is "Todo".

#include <tuple>
#include <type_traits>

namespace keel::describe {

template <class T, class M>
struct Member {
    const char* name = {};
    M T::*ptr = {};
    using type = M;
};

template <class T>
concept Described = requires {
    keel_members(static_cast<const T*>(nullptr));
};

/// T's name as written in KEEL_DESCRIBE ("Todo"): the name of its schema in an OpenAPI document.
template <class T>
const char* type_name() {
    return keel_type_name(static_cast<const T*>(nullptr));
}

/// {Member, ...} for T, in declaration order.
template <class T>
auto members() {
    return keel_members(static_cast<const T*>(nullptr));
}

/// Calls fn(name, member) for each member of `object`, in order.
template <class T, class F>
void for_each_member(T& object, F&& fn) {
    std::apply([&](const auto&... m) { (fn(m.name, object.*(m.ptr)), ...); }, members<std::remove_const_t<T>>());
}

}  // namespace keel::describe

#define KEEL_DETAIL_EXPAND(x) x
#define KEEL_DETAIL_FE_1(m, t, x) m(t, x)
#define KEEL_DETAIL_FE_2(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_1(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_3(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_2(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_4(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_3(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_5(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_4(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_6(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_5(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_7(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_6(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_8(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_7(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_9(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_8(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_10(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_9(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_11(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_10(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_12(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_11(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_13(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_12(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_14(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_13(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_15(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_14(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_16(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_15(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_17(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_16(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_18(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_17(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_19(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_18(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_20(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_19(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_21(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_20(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_22(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_21(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_23(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_22(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_24(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_23(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_25(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_24(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_26(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_25(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_27(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_26(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_28(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_27(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_29(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_28(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_30(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_29(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_31(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_30(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_32(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_31(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_33(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_32(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_34(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_33(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_35(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_34(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_36(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_35(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_37(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_36(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_38(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_37(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_39(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_38(m, t, __VA_ARGS__))
#define KEEL_DETAIL_FE_40(m, t, x, ...) m(t, x), KEEL_DETAIL_EXPAND(KEEL_DETAIL_FE_39(m, t, __VA_ARGS__))
#define KEEL_DETAIL_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20, \
                         _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, _33, _34, _35, _36, _37, _38,  \
                         _39, _40, NAME, ...)                                                                       \
    NAME
#define KEEL_DETAIL_FOR_EACH(m, t, ...)                                                                              \
    KEEL_DETAIL_EXPAND(KEEL_DETAIL_PICK(                                                                             \
        __VA_ARGS__, KEEL_DETAIL_FE_40, KEEL_DETAIL_FE_39, KEEL_DETAIL_FE_38, KEEL_DETAIL_FE_37, KEEL_DETAIL_FE_36,  \
        KEEL_DETAIL_FE_35, KEEL_DETAIL_FE_34, KEEL_DETAIL_FE_33, KEEL_DETAIL_FE_32, KEEL_DETAIL_FE_31,               \
        KEEL_DETAIL_FE_30, KEEL_DETAIL_FE_29, KEEL_DETAIL_FE_28, KEEL_DETAIL_FE_27, KEEL_DETAIL_FE_26,               \
        KEEL_DETAIL_FE_25, KEEL_DETAIL_FE_24, KEEL_DETAIL_FE_23, KEEL_DETAIL_FE_22, KEEL_DETAIL_FE_21,               \
        KEEL_DETAIL_FE_20, KEEL_DETAIL_FE_19, KEEL_DETAIL_FE_18, KEEL_DETAIL_FE_17, KEEL_DETAIL_FE_16,               \
        KEEL_DETAIL_FE_15, KEEL_DETAIL_FE_14, KEEL_DETAIL_FE_13, KEEL_DETAIL_FE_12, KEEL_DETAIL_FE_11,               \
        KEEL_DETAIL_FE_10, KEEL_DETAIL_FE_9, KEEL_DETAIL_FE_8, KEEL_DETAIL_FE_7, KEEL_DETAIL_FE_6, KEEL_DETAIL_FE_5, \
        KEEL_DETAIL_FE_4, KEEL_DETAIL_FE_3, KEEL_DETAIL_FE_2, KEEL_DETAIL_FE_1)(m, t, __VA_ARGS__))

#define KEEL_DETAIL_MEMBER(T, f)                  \
    ::keel::describe::Member<T, decltype(T::f)> { \
#f, &T::f                                 \
    }

/// Declares the members of struct `Type` (use at namespace scope, in Type's namespace).
#define KEEL_DESCRIBE(Type, ...)                                                             \
    [[maybe_unused]] inline auto keel_members(const Type*) {                                 \
        return std::make_tuple(KEEL_DETAIL_FOR_EACH(KEEL_DETAIL_MEMBER, Type, __VA_ARGS__)); \
    }                                                                                        \
    [[maybe_unused]] inline const char* keel_type_name(const Type*) {                        \
        return #Type;                                                                        \
    }
