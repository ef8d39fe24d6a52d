#include <keel/middleware/request_id.hpp>

#include <keel/http/request_id.hpp>

#include <cstring>

namespace keel::mw {
namespace {

bool valid_incoming(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == ':' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

void generate(RequestId& id) {
    http::generate_request_id(id.data);
    id.size = static_cast<unsigned char>(http::kRequestIdLength);
}

void add_to_problem(http::Response& res, std::string_view id) {
    auto ct = res.header_value("Content-Type");
    if (!ct || ct->substr(0, 24) != "application/problem+json" || res.is_stream()) {
        return;
    }
    std::string_view body = res.body_view();
    if (body.empty() || body.back() != '}' || body.find("\"request_id\"") != std::string_view::npos) {
        return;
    }
    std::string& b = res.body_buffer();  // copies a static body into the buffer if needed
    if (b.empty()) {
        b.assign(body.data(), body.size());
    }
    b.pop_back();
    b.append(",\"request_id\":\"").append(id).append("\"}");  // id chars need no escaping
}

}  // namespace

std::string_view request_id_of(http::Request& req) noexcept {
    const RequestId* id = req.context().get<RequestId>();
    return id ? id->view() : std::string_view{};
}

void attach_request_id(http::Request& req, http::Response& res) {
    std::string_view id = request_id_of(req);
    if (id.empty()) {
        return;
    }
    res.set_header("X-Request-ID", id);
    add_to_problem(res, id);
}

http::Middleware request_id() {
    return [](http::Handler next) {
        return http::wrap(
            std::move(next),
            [](http::Request& req) -> std::optional<http::Response> {
                RequestId id;
                auto incoming = req.header("X-Request-ID");
                if (incoming && valid_incoming(*incoming)) {
                    std::memcpy(id.data, incoming->data(), incoming->size());
                    id.size = static_cast<unsigned char>(incoming->size());
                } else {
                    generate(id);
                }
                req.context().set(id);
                return std::nullopt;
            },
            [](http::Request& req, http::Response& res) { attach_request_id(req, res); });
    };
}

}  // namespace keel::mw
