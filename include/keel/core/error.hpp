#pragma once
/// keel::Error: the error half of keel::Result. A code a caller can branch on plus a
/// human-readable message. Common errors are constants with static messages, so returning
/// them never allocates; `Error::with_detail` allocates once for a dynamic message.

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace keel {

/// What went wrong, coarse enough to map onto an HTTP status or a retry decision.
enum class Errc {
    internal,          ///< a bug or an unexpected failure (500)
    invalid_argument,  ///< the caller passed something malformed (400)
    not_found,         ///< the thing does not exist (404)
    conflict,          ///< the thing exists already / state conflict (409)
    overloaded,        ///< a bounded queue is full: retry later (503 + Retry-After)
    timeout,           ///< a deadline passed (503/504)
    cancelled,         ///< the operation's stop token fired
    unavailable,       ///< a dependency is down (503)
    io,                ///< a system call failed
    closed,            ///< the peer or the resource is closed
};

/// A short, stable name for an Errc ("overloaded"), for logs and problem types.
std::string_view errc_name(Errc code) noexcept;

class Error {
  public:
    /// An error with a static message (the string must outlive the Error: use literals).
    constexpr Error(Errc code, std::string_view static_message) noexcept : code_(code), static_(static_message) {}
    /// A std::string would dangle (only its view is kept): a built message is with_detail's.
    template <class S, std::enable_if_t<std::is_same_v<std::decay_t<S>, std::string>, int> = 0>
    Error(Errc code, S&& message) = delete;

    /// An error with a message built at run time (one allocation).
    static Error with_detail(Errc code, std::string message) {
        Error e(code, {});
        e.dynamic_ = std::make_shared<const std::string>(std::move(message));
        return e;
    }

    Errc code() const noexcept { return code_; }
    std::string_view message() const noexcept { return dynamic_ ? std::string_view(*dynamic_) : static_; }

    friend bool operator==(const Error& a, Errc c) noexcept { return a.code_ == c; }

  private:
    Errc code_;
    std::string_view static_;
    std::shared_ptr<const std::string> dynamic_;
};

/// Predefined errors for the common failures (no allocation on the error path).
namespace errors {
inline const Error kOverloaded{Errc::overloaded, "server overloaded, retry later"};
inline const Error kTimeout{Errc::timeout, "deadline exceeded"};
inline const Error kCancelled{Errc::cancelled, "operation cancelled"};
inline const Error kClosed{Errc::closed, "closed"};
}  // namespace errors

}  // namespace keel
