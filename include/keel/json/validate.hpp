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

#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace keel::json {

struct FieldError {
    std::string pointer;      ///< RFC 6901 JSON pointer to the field ("/items/0/name"; "" = the document)
    std::string reason = {};  ///< "is required", "must be a string", …
};

using Errors = std::vector<FieldError>;

/// Escapes one JSON-pointer reference token ('~' → "~0", '/' → "~1").
std::string pointer_token(std::string_view key);

/// Appends a type's rule errors (`rules`) to `errors`, dropping those about a field already
/// reported there or inside one (each field is named once, with its first problem).
void merge_rule_errors(Errors& errors, Errors rules);

/// A regular expression that remembers its text, so that a schema can show it.
struct Pattern {
    explicit Pattern(std::string text) : source(std::move(text)), re(source) {}
    std::string source;
    std::regex re;
};

/// The rules a Validator saw in recording mode, by JSON pointer, as JSON Schema keywords
/// (",\"minLength\":1,\"maxLength\":2048"): how keel/json/schema.hpp learns a type's rules.
using SchemaHints = std::map<std::string, std::string>;

class Validator {
  public:
    explicit Validator(Errors& errors) : errors_(errors) {}
    /// Recording mode: the rules are written to `hints` instead of being checked.
    Validator(Errors& errors, SchemaHints* hints) : errors_(errors), hints_(hints) {}

    void error(std::string pointer, std::string reason) {
        if (!hints_) {
            errors_.push_back({std::move(pointer), std::move(reason)});
        }
    }
    void check(bool ok, std::string_view pointer, std::string_view reason) {
        if (!ok) {
            error(std::string(pointer), std::string(reason));
        }
    }
    /// Length in bytes (UTF-8 code units).
    void length(std::string_view pointer, std::string_view s, std::size_t min, std::size_t max);
    void pattern(std::string_view pointer, std::string_view s, const std::regex& re, std::string_view what);
    /// The same with a Pattern: a schema shows its text.
    void pattern(std::string_view pointer, std::string_view s, const Pattern& p, std::string_view what);
    template <class N>
    void range(std::string_view pointer, N value, N lo, N hi) {
        if (hints_) {
            (*hints_)[std::string(pointer)] +=
                ",\"minimum\":" + std::to_string(lo) + ",\"maximum\":" + std::to_string(hi);
        } else if (value < lo || value > hi) {
            error(std::string(pointer), "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        }
    }
    bool ok() const noexcept { return errors_.empty(); }

  private:
    Errors& errors_;
    SchemaHints* hints_ = nullptr;
};

}  // namespace keel::json
