#pragma once
/// Escaping text for HTML (element content and quoted attribute values): & < > " ' become
/// entities, so text from a user or a database can never open a tag or end an attribute.

#include <string>
#include <string_view>

namespace keel::web {

/// Appends `text` to `out`, escaped.
void append_html_escaped(std::string& out, std::string_view text);

inline std::string html_escape(std::string_view text) {
    std::string out;
    append_html_escaped(out, text);
    return out;
}

}  // namespace keel::web
