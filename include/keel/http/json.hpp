#pragma once
/// JSON over HTTP: binding a request body to a KEEL_JSON struct (keel/json/parse.hpp does the
/// parsing and validation) and answering with JSON. A failed bind is a Problem ready to return:
///
///     Result<Response, Problem> create(Request& req) {
///         KEEL_TRY(in, http::bind<CreateLink>(req));   // 415 or one 400 listing every bad field
///         return http::json_response(make(in), 201);
///     }
///
/// Bodies: Content-Type must be application/json or application/<x>+json (415 otherwise);
/// malformed JSON is a 400 naming the byte offset; otherwise one 400 lists every invalid field
/// (type errors, missing members and the type's own rules together) as JSON pointers.

#include <keel/core/result.hpp>
#include <keel/http/problem.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>
#include <keel/json/describe.hpp>
#include <keel/json/parse.hpp>

#include <string>
#include <string_view>

namespace keel::http {

struct BindOptions {
    bool reject_unknown_fields = true;
    /// Content-Type must be application/json or application/*+json.
    bool require_content_type = true;
};

/// True for application/json and application/<anything>+json (parameters ignored).
bool is_json_content_type(std::string_view content_type) noexcept;

/// The 400 Problem for `errors` ("errors": [{"pointer", "reason"}, ...]).
Problem validation_problem(json::Errors errors, std::string_view detail = "the request body failed validation");

/// The request body as a T, or the Problem to answer (415, 400). The Problem's instance is the
/// request's path.
template <class T>
Result<T, Problem> bind(Request& req, const BindOptions& options = {}) {
    if (options.require_content_type && !is_json_content_type(req.header("Content-Type").value_or(""))) {
        Problem p =
            validation_problem({{"", "Content-Type must be application/json"}}, "the request body must be JSON");
        p.status = 415;
        p.instance = std::string(req.path());
        return p;
    }
    json::Errors errors;
    T value{};
    bool well_formed = json::parse(req.body(), value, errors, {.reject_unknown_fields = options.reject_unknown_fields});
    if (!errors.empty()) {
        std::string detail = well_formed ? "the request body failed validation" : errors.front().reason;
        Problem p = validation_problem(std::move(errors), detail);
        p.instance = std::string(req.path());
        return p;
    }
    return value;
}

/// A response whose body is `value` written as JSON (application/json).
template <class T>
Response json_response(const T& value, int status = 200) {
    Response r(status);
    r.header("Content-Type", "application/json");
    json::Writer(r.body_buffer()).value(value);
    return r;
}

}  // namespace keel::http
