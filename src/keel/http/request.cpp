#include <keel/http/request.hpp>

#include <strings.h>

namespace keel::http {

const std::vector<Header> Request::kNoHeaders;

std::optional<std::string_view> find_header(const std::vector<Header>& headers, std::string_view name) noexcept {
    for (const Header& h : headers) {
        if (h.name.size() == name.size() && ::strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
            return h.value;
        }
    }
    return std::nullopt;
}

std::string_view Request::param(std::string_view name) const noexcept {
    for (const PathParam& p : params_) {
        if (p.name == name) {
            return p.value;
        }
    }
    return {};
}

void Request::assign(const RequestHead& head, std::string_view body, const std::vector<Header>* trailers) {
    method_name_ = head.method;
    method_ = method_from_string(head.method);
    target_ = head.target;
    version_minor_ = head.version_minor;
    headers_ = head.headers ? head.headers : &kNoHeaders;
    trailers_ = trailers ? trailers : &kNoHeaders;
    host_ = head.host;
    body_ = body;
    keep_alive_ = head.keep_alive;

    std::string_view t = target_;
    if (!t.empty() && t[0] != '/' && t != "*") {
        // absolute-form: drop "scheme://authority"
        std::size_t scheme_end = t.find("://");
        if (scheme_end != std::string_view::npos) {
            std::size_t path_start = t.find_first_of("/?", scheme_end + 3);
            t = path_start == std::string_view::npos ? std::string_view("/") : t.substr(path_start);
        }
    }
    std::size_t q = t.find('?');
    if (q == std::string_view::npos) {
        path_ = t;
        query_ = {};
    } else {
        path_ = t.substr(0, q);
        query_ = t.substr(q + 1);
    }
    if (path_.empty()) {
        path_ = "/";
    }
}

void Request::reset() noexcept {
    params_.clear();
    route_ = {};
    scratch_.clear();
    context_.clear();
    body_ = {};
    headers_ = &kNoHeaders;
    trailers_ = &kNoHeaders;
}

}  // namespace keel::http
