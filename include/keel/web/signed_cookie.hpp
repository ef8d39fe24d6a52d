#pragma once
/// keel::web::CookieSigner: cookies the client can read but not forge (HMAC-SHA256, OpenSSL;
/// the web module, so that a program without it links no libcrypto).
/// The value is any bytes; the cookie carries base64url(value) "." base64url(mac), where the
/// MAC covers the cookie's name too, so a value signed for "session" is refused as "role".
///
///     keel::web::CookieSigner signer({config.cookie_key});          // ≥ 32 bytes
///     keel::web::set_cookie(res, {.name = "session", .value = signer.sign("session", user_id)});
///     std::optional<std::string> user = signer.verify("session", keel::web::cookie(req, "session"));
///
/// Several keys rotate: the first signs, every one verifies. Signing is not encryption: put
/// nothing secret in the value. Expiry is the cookie's Max-Age (or a timestamp in the value).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::web {

class CookieSigner {
  public:
    /// Throws std::invalid_argument when `keys` is empty or a key is shorter than 32 bytes.
    explicit CookieSigner(std::vector<std::string> keys);

    /// The cookie value carrying `value`, signed for cookie `name`.
    std::string sign(std::string_view name, std::string_view value) const;
    /// The value, when `cookie_value` was signed for `name` by one of the keys; else nullopt
    /// (also for a missing cookie).
    std::optional<std::string> verify(std::string_view name, std::optional<std::string_view> cookie_value) const;

  private:
    std::vector<std::string> keys_;
};

}  // namespace keel::web
