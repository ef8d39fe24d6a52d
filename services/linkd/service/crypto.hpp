#pragma once
// The few cryptographic primitives linkd needs, from OpenSSL's libcrypto.

#include <string>
#include <string_view>

namespace linkd {

/// SHA-256 of `data`, lowercase hex.
std::string sha256_hex(std::string_view data);
/// `n` characters drawn uniformly from [A-Za-z0-9] with the OS's CSPRNG.
std::string random_base62(std::size_t n);
/// Compares without an early exit (no timing leak of how much matched).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace linkd
