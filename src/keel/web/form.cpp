#include <keel/web/form.hpp>

#include <keel/core/percent.hpp>

#include <keel/http/detail/byte_classes.hpp>

namespace keel::web {

Result<FormFields, json::FieldError> parse_urlencoded(std::string_view text, std::size_t max_fields) {
    FormFields fields;
    while (!text.empty() && fields.size() <= max_fields) {
        std::size_t amp = text.find('&');
        std::string_view pair = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        std::size_t eq = pair.find('=');
        std::string_view raw_name = pair.substr(0, eq);
        std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        auto name = percent_decode(raw_name, true);
        auto value = percent_decode(raw_value, true);
        if (!name || !value) {
            return json::FieldError{"/" + json::pointer_token(name ? *name : raw_name),
                                    "has a malformed percent-escape"};
        }
        fields.push_back({std::move(*name), std::move(*value)});
    }
    return fields;
}

bool is_urlencoded_content_type(std::string_view content_type) noexcept {
    return http::detail::iequals(http::detail::trim_ows(content_type.substr(0, content_type.find(';'))),
                                 "application/x-www-form-urlencoded");
}

namespace detail {

std::optional<bool> parse_flag(std::string_view text) noexcept {
    if (http::detail::iequals(text, "true") || text == "1" || http::detail::iequals(text, "on")) {
        return true;
    }
    if (http::detail::iequals(text, "false") || text == "0" || http::detail::iequals(text, "off")) {
        return false;
    }
    return std::nullopt;
}

}  // namespace detail
}  // namespace keel::web
