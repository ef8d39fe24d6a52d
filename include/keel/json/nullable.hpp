#pragma once
/// keel::json::Nullable<T>: a member that is absent, null, or a value, three different things
/// in a PATCH body (RFC 7396 merge patch: absent = unchanged, null = remove):
///
///     struct LinkUpdate { std::optional<std::string> url; keel::json::Nullable<std::string> expires_at; };
///
///     if (in.expires_at.is_null()) clear_expiry(); else if (in.expires_at) set_expiry(*in.expires_at);
///
/// bind() treats it like std::optional (never required); the writer writes null or the value.

#include <type_traits>
#include <utility>

namespace keel::json {

template <class T>
class Nullable {
  public:
    /// Absent.
    Nullable() = default;
    /// A value (so that `{.url = "https://..."}` builds one in code and tests).
    template <class U, class = std::enable_if_t<std::is_constructible_v<T, U&&>>>
    Nullable(U&& v) : state_(State::value), value_(std::forward<U>(v)) {}  // NOLINT: implicit
    /// Null (as a client's JSON null).
    static Nullable null() {
        Nullable n;
        n.state_ = State::null;
        return n;
    }

    bool absent() const noexcept { return state_ == State::absent; }
    bool is_null() const noexcept { return state_ == State::null; }
    bool has_value() const noexcept { return state_ == State::value; }
    explicit operator bool() const noexcept { return has_value(); }
    const T& operator*() const noexcept { return value_; }
    T& operator*() noexcept { return value_; }
    const T* operator->() const noexcept { return &value_; }

    /// For bind(): null was read.
    void reset() noexcept { state_ = State::null; }
    /// For bind(): a value is about to be read.
    T& emplace() {
        state_ = State::value;
        return value_;
    }

  private:
    enum class State { absent, null, value };
    State state_ = State::absent;
    T value_{};
};

}  // namespace keel::json
