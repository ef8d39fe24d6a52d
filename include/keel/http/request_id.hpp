#pragma once
/// Request ids: 32 random hex digits from a per-thread xoshiro256** generator (128 random bits,
/// no allocation). keel::mw::request_id uses it for requests, and the server for the errors it
/// answers before a request exists (malformed or oversized heads), so every problem+json body
/// names an id that can be found in the logs.

#include <cstddef>

namespace keel::http {

inline constexpr std::size_t kRequestIdLength = 32;

/// Writes kRequestIdLength lowercase hex digits to `out`.
void generate_request_id(char* out) noexcept;

}  // namespace keel::http
