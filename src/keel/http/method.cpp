#include <keel/http/method.hpp>

namespace keel::http {

Method method_from_string(std::string_view n) noexcept {
    switch (n.size()) {
        case 3:
            if (n == "GET")
                return Method::get;
            if (n == "PUT")
                return Method::put;
            break;
        case 4:
            if (n == "POST")
                return Method::post;
            if (n == "HEAD")
                return Method::head;
            break;
        case 5:
            if (n == "PATCH")
                return Method::patch;
            if (n == "TRACE")
                return Method::trace;
            break;
        case 6:
            if (n == "DELETE")
                return Method::delete_;
            break;
        case 7:
            if (n == "OPTIONS")
                return Method::options;
            if (n == "CONNECT")
                return Method::connect;
            break;
        default:
            break;
    }
    return Method::other;
}

std::string_view to_string(Method m) noexcept {
    switch (m) {
        case Method::get:
            return "GET";
        case Method::head:
            return "HEAD";
        case Method::post:
            return "POST";
        case Method::put:
            return "PUT";
        case Method::patch:
            return "PATCH";
        case Method::delete_:
            return "DELETE";
        case Method::options:
            return "OPTIONS";
        case Method::trace:
            return "TRACE";
        case Method::connect:
            return "CONNECT";
        case Method::other:
            return "OTHER";
    }
    return "OTHER";
}

}  // namespace keel::http
