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
    version_major_ = head.version_major;
    headers_ = head.headers ? head.headers : &kNoHeaders;
    trailers_ = trailers ? trailers : &kNoHeaders;
    host_ = head.host;
    body_ = body;
    body_stream_ = nullptr;
    keep_alive_ = head.keep_alive;

    TargetParts parts = split_target(target_);
    path_ = parts.path;
    query_ = parts.query;
}

TargetParts split_target(std::string_view t) noexcept {
    if (!t.empty() && t[0] != '/' && t != "*") {
        // absolute-form: drop "scheme://authority"
        std::size_t scheme_end = t.find("://");
        if (scheme_end != std::string_view::npos) {
            std::size_t path_start = t.find_first_of("/?", scheme_end + 3);
            t = path_start == std::string_view::npos ? std::string_view("/") : t.substr(path_start);
        }
    }
    TargetParts parts;
    std::size_t q = t.find('?');
    if (q == std::string_view::npos) {
        parts.path = t;
    } else {
        parts.path = t.substr(0, q);
        parts.query = t.substr(q + 1);
    }
    if (parts.path.empty()) {
        parts.path = "/";
    }
    return parts;
}

void Request::reset() noexcept {
    params_.clear();
    route_ = {};
    scratch_.clear();
    context_.clear();
    body_ = {};
    body_stream_ = nullptr;
    headers_ = &kNoHeaders;
    trailers_ = &kNoHeaders;
}

}  // namespace keel::http
