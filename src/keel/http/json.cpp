#include <keel/http/json.hpp>

#include <strings.h>

namespace keel::http {

bool is_json_content_type(std::string_view ct) noexcept {
    ct = ct.substr(0, ct.find(';'));
    while (!ct.empty() && ct.back() == ' ') {
        ct.remove_suffix(1);
    }
    if (ct.size() == 16 && ::strncasecmp(ct.data(), "application/json", 16) == 0) {
        return true;
    }
    // application/<anything>+json
    return ct.size() > 17 && ::strncasecmp(ct.data(), "application/", 12) == 0 &&
           ::strncasecmp(ct.data() + ct.size() - 5, "+json", 5) == 0;
}

Problem validation_problem(json::Errors errors, std::string_view detail) {
    return Problem{.status = 400, .detail = std::string(detail), .errors = std::move(errors)};
}

}  // namespace keel::http
