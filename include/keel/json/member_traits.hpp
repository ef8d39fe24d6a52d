#pragma once
/// What a described member's type says about its field, shared by everything that walks
/// KEEL_JSON members: JSON parsing, form and query binding, JSON Schemas.

#include <keel/json/nullable.hpp>

#include <optional>
#include <type_traits>
#include <vector>

namespace keel::json::detail {

template <class T>
struct optional_of : std::false_type {};
template <class T>
struct optional_of<std::optional<T>> : std::true_type {
    using type = T;
};

template <class T>
struct nullable_of : std::false_type {};
template <class T>
struct nullable_of<Nullable<T>> : std::true_type {
    using type = T;
};

template <class T>
struct vector_of : std::false_type {};
template <class T>
struct vector_of<std::vector<T>> : std::true_type {
    using type = T;
};

/// std::optional<T> or Nullable<T>: the field may be left out.
template <class T>
inline constexpr bool may_be_absent = optional_of<T>::value || nullable_of<T>::value;

}  // namespace keel::json::detail
