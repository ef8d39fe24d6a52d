#include <keel/http/problem.hpp>
#include <keel/http/status.hpp>
#include <keel/json/bind.hpp>
#include <keel/json/validate.hpp>
#include <keel/json/writer.hpp>

#include <strings.h>

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

http::Response to_problem(const Errors& errors, std::string_view instance, std::string_view detail, int status) {
    http::Response r(status);
    r.header("Content-Type", "application/problem+json");
    std::string& b = r.body_buffer();
    Writer w(b);
    w.begin_object()
        .key("type")
        .value("about:blank")
        .key("title")
        .value(http::reason_phrase(status))
        .key("status")
        .value(status)
        .key("detail")
        .value(detail.empty() ? std::string_view("the request is invalid") : detail);
    if (!instance.empty()) {
        w.key("instance").value(instance);
    }
    w.key("errors").begin_array();
    for (const FieldError& e : errors) {
        w.begin_object().key("pointer").value(e.pointer).key("reason").value(e.reason).end_object();
    }
    w.end_array().end_object();
    return r;
}

void Validator::length(std::string_view pointer, std::string_view s, std::size_t min, std::size_t max) {
    if (s.size() < min || s.size() > max) {
        error(std::string(pointer), min == max ? "must be exactly " + std::to_string(min) + " bytes long"
                                               : "must be between " + std::to_string(min) + " and " +
                                                     std::to_string(max) + " bytes long");
    }
}

void Validator::pattern(std::string_view pointer, std::string_view s, const std::regex& re, std::string_view what) {
    if (!std::regex_match(s.begin(), s.end(), re)) {
        error(std::string(pointer), "must be " + std::string(what));
    }
}

namespace detail {
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
}  // namespace detail

}  // namespace keel::json
