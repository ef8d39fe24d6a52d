#include <keel/json/validate.hpp>

#include <keel/json/writer.hpp>

#include <algorithm>

namespace keel::json {

std::string pointer_token(std::string_view key) {
    std::string out;
    out.reserve(key.size());
    for (char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

void merge_rule_errors(Errors& errors, Errors rules) {
    for (FieldError& e : rules) {
        bool reported = std::any_of(errors.begin(), errors.end(), [&](const FieldError& seen) {
            return seen.pointer == e.pointer ||
                   (e.pointer.size() > seen.pointer.size() && e.pointer.starts_with(seen.pointer) &&
                    e.pointer[seen.pointer.size()] == '/');
        });
        if (!reported) {
            errors.push_back(std::move(e));
        }
    }
}

void Validator::length(std::string_view pointer, std::string_view s, std::size_t min, std::size_t max) {
    if (hints_) {
        (*hints_)[std::string(pointer)] +=
            ",\"minLength\":" + std::to_string(min) + ",\"maxLength\":" + std::to_string(max);
        return;
    }
    if (s.size() < min || s.size() > max) {
        error(std::string(pointer),
              min == max ? "must be exactly " + std::to_string(min) + " bytes long"
                         : "must be between " + std::to_string(min) + " and " + std::to_string(max) + " bytes long");
    }
}

void Validator::pattern(std::string_view pointer, std::string_view s, const Pattern& p, std::string_view what) {
    if (hints_) {
        std::string keyword = ",\"pattern\":";
        write_string(keyword, "^(?:" + p.source + ")$");  // the whole value, as regex_match means it
        (*hints_)[std::string(pointer)] += keyword;
        return;
    }
    pattern(pointer, s, p.re, what);
}

void Validator::pattern(std::string_view pointer, std::string_view s, const std::regex& re, std::string_view what) {
    if (hints_) {
        return;  // a std::regex cannot show its text: use a Pattern for the schema to say it
    }
    if (!std::regex_match(s.begin(), s.end(), re)) {
        error(std::string(pointer), "must be " + std::string(what));
    }
}

}  // namespace keel::json
