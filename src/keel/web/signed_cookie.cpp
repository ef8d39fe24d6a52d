#include <keel/web/signed_cookie.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace keel::web {
namespace {

constexpr std::size_t kMinKeyBytes = 32;
constexpr std::size_t kMacBytes = 32;  // SHA-256

// base64url without padding (RFC 4648 §5), through OpenSSL's base64 with the alphabet swapped.
std::string base64url_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') {
        out.pop_back();
    }
    for (char& c : out) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) {
        return std::nullopt;
    }
    std::string in(text);
    for (char& c : in) {
        if (c == '+' || c == '/' || c == '=') {
            return std::nullopt;  // only the URL alphabet, unpadded
        }
        c = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    std::size_t padding = (4 - in.size() % 4) % 4;
    in.append(padding, '=');
    std::string out(in.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) {
        return std::nullopt;
    }
    out.resize(static_cast<std::size_t>(n) - padding);  // EVP_DecodeBlock counts padding as zero bytes
    return out;
}

std::string mac(const std::string& key, std::string_view name, std::string_view encoded_value) {
    std::string message;
    message.reserve(name.size() + 1 + encoded_value.size());
    message.append(name).append("=").append(encoded_value);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), md, &len);
    return std::string(reinterpret_cast<const char*>(md), len);
}

}  // namespace

CookieSigner::CookieSigner(std::vector<std::string> keys) : keys_(std::move(keys)) {
    if (keys_.empty()) {
        throw std::invalid_argument("CookieSigner needs at least one key");
    }
    for (const std::string& k : keys_) {
        if (k.size() < kMinKeyBytes) {
            throw std::invalid_argument("CookieSigner keys must be at least 32 bytes");
        }
    }
}

std::string CookieSigner::sign(std::string_view name, std::string_view value) const {
    std::string encoded = base64url_encode(value);
    return encoded + "." + base64url_encode(mac(keys_.front(), name, encoded));
}

std::optional<std::string> CookieSigner::verify(std::string_view name,
                                                std::optional<std::string_view> cookie_value) const {
    if (!cookie_value) {
        return std::nullopt;
    }
    std::size_t dot = cookie_value->rfind('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view encoded = cookie_value->substr(0, dot);
    auto given = base64url_decode(cookie_value->substr(dot + 1));
    if (!given || given->size() != kMacBytes) {
        return std::nullopt;
    }
    for (const std::string& key : keys_) {
        std::string expected = mac(key, name, encoded);
        if (CRYPTO_memcmp(expected.data(), given->data(), kMacBytes) == 0) {
            return base64url_decode(encoded);
        }
    }
    return std::nullopt;
}

}  // namespace keel::web
