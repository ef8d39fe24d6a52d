#pragma once
/// keel::json::Errors and Validator: field errors as (JSON pointer, reason) pairs, and the rules
/// a type's validation function applies after binding:
///
///     void keel_validate(const CreateLink& in, keel::json::Validator& v) {   // found by ADL
///         v.length("/url", in.url, 1, 2048);
///         if (in.slug) v.pattern("/slug", *in.slug, kSlugRe, "3-64 letters, digits, '_' or '-'");
///         v.check(!is_reserved(in.slug), "/slug", "is reserved");
///     }
///
/// The HTTP side (keel/http/json.hpp) answers them as one 400 problem+json whose "errors"
/// array lists every one.

#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace keel::json {

struct FieldError {
    std::string pointer;  ///< RFC 6901 JSON pointer to the field ("/items/0/name"; "" = the document)
    std::string reason = {};   ///< "is required", "must be a string", …
};

using Errors = std::vector<FieldError>;

/// Escapes one JSON-pointer reference token ('~' → "~0", '/' → "~1").
std::string pointer_token(std::string_view key);

/// Appends a type's rule errors (`rules`) to `errors`, dropping those about a field already
/// reported there or inside one (each field is named once, with its first problem).
void merge_rule_errors(Errors& errors, Errors rules);

class Validator {
public:
    explicit Validator(Errors& errors) : errors_(errors) {}

    void error(std::string pointer, std::string reason) { errors_.push_back({std::move(pointer), std::move(reason)}); }
    void check(bool ok, std::string_view pointer, std::string_view reason) {
        if (!ok) {
            error(std::string(pointer), std::string(reason));
        }
    }
    /// Length in bytes (UTF-8 code units).
    void length(std::string_view pointer, std::string_view s, std::size_t min, std::size_t max);
    void pattern(std::string_view pointer, std::string_view s, const std::regex& re, std::string_view what);
    template <class N>
    void range(std::string_view pointer, N value, N lo, N hi) {
        if (value < lo || value > hi) {
            error(std::string(pointer), "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        }
    }
    bool ok() const noexcept { return errors_.empty(); }

private:
    Errors& errors_;
};

}  // namespace keel::json
