#include <keel/http/problem.hpp>

#include <keel/http/status.hpp>
#include <keel/json/writer.hpp>

#include <array>
#include <charconv>

namespace keel::http {
Response problem(const Problem& p) {
    Response r(p.status);
    r.header("Content-Type", "application/problem+json");
    for (const auto& [name, value] : p.headers) {
        r.header(name, value);
    }
    std::string& b = r.body_buffer();
    b.append("{\"type\":");
    json::write_string(b, p.type);
    b.append(",\"title\":");
    json::write_string(b, p.title.empty() ? reason_phrase(p.status) : std::string_view(p.title));
    b.append(",\"status\":");
    char num[16];
    auto [end, ec] = std::to_chars(num, num + sizeof num, p.status);
    b.append(num, static_cast<std::size_t>(end - num));
    if (!p.detail.empty()) {
        b.append(",\"detail\":");
        json::write_string(b, p.detail);
    }
    if (!p.instance.empty()) {
        b.append(",\"instance\":");
        json::write_string(b, p.instance);
    }
    if (!p.errors.empty()) {
        b.append(",\"errors\":[");
        for (std::size_t i = 0; i < p.errors.size(); ++i) {
            b.append(i == 0 ? "{\"pointer\":" : ",{\"pointer\":");
            json::write_string(b, p.errors[i].pointer);
            b.append(",\"reason\":");
            json::write_string(b, p.errors[i].reason);
            b.push_back('}');
        }
        b.push_back(']');
    }
    b.push_back('}');
    return r;
}

Response problem_for(Problem p, std::string_view path) {
    if (p.instance.empty()) {
        p.instance = std::string(path);
    }
    return problem(p);
}

Problem to_problem(const Error& e) {
    switch (e.code()) {
        case Errc::not_found:
            return Problem{.status = 404, .detail = std::string(e.message())};
        case Errc::invalid_argument:
            return Problem{.status = 400, .detail = std::string(e.message())};
        case Errc::conflict:
            return Problem{.status = 409, .detail = std::string(e.message())};
        case Errc::overloaded:
        case Errc::unavailable:
        case Errc::timeout:
        case Errc::cancelled:
            return Problem{.status = 503,
                           .detail = "a dependency is busy or unavailable; retry shortly",
                           .headers = {{"Retry-After", "1"}}};
        case Errc::internal:
        case Errc::io:
        case Errc::closed:
            break;
    }
    return Problem{.status = 500, .detail = "internal error"};
}

}  // namespace keel::http
