#pragma once
/// RFC 9457 problem details (application/problem+json), the body of every error keel itself
/// produces and the error type of handlers that return Result<Response, Problem>:
///
///     Result<Response, Problem> get_user(Request& req) {
///         KEEL_TRY(id, parse_id(req.param("id")));               // Result<std::int64_t, Problem>
///         if (!exists(id)) return Problem{.status = 404, .detail = "no such user"};
///         return Response::text("user " + std::to_string(id));
///     }
///
/// A Problem answered for a request gets that request's path as `instance` when it has none.
/// For 5xx the detail should be generic (never internals); the server's own 5xx use fixed texts.

#include <keel/core/error.hpp>
#include <keel/core/result.hpp>
#include <keel/http/response.hpp>
#include <keel/json/validate.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::http {

struct Problem {
    int status = 500;
    std::string detail = {};    ///< human explanation of this occurrence
    std::string instance = {};  ///< the request path (filled in when answered, if empty)
    std::string type = "about:blank";
    std::string title = {};    ///< empty: the status' reason phrase
    json::Errors errors = {};  ///< invalid fields ("errors": [{"pointer", "reason"}, ...])
    std::vector<std::pair<std::string, std::string>> headers = {};  ///< e.g. Retry-After
};

/// The problem+json response: {"type","title","status","detail","instance"[,"errors"]}, plus
/// the problem's headers.
Response problem(const Problem& p);
inline Response problem(int status, std::string_view detail, std::string_view instance = {}) {
    return problem(Problem{.status = status, .detail = std::string(detail), .instance = std::string(instance)});
}

/// The response for a Problem a handler returned for `req` (instance defaults to its path).
Response problem_for(Problem p, std::string_view path);

/// The Problem a client should see for a keel::Error from a lower layer: not_found 404,
/// invalid_argument 400 and conflict 409 keep the error's message as the detail; overloaded,
/// unavailable, timeout and cancelled are 503 with Retry-After: 1; anything else is a 500 whose
/// detail is generic (internals stay in the logs, never in the response).
Problem to_problem(const Error& e);

/// `r` with its Error turned into a Problem (to_problem), for KEEL_CO_TRY in a handler that
/// returns ProblemOr:
///
///     KEEL_CO_TRY(user, or_problem(co_await db.with(req).query_one<User>(sql, id)));
template <class T>
Result<T, Problem> or_problem(Result<T> r) {
    if (r) {
        return std::move(*r);
    }
    return to_problem(r.error());
}
inline Result<void, Problem> or_problem(const Result<void>& r) {
    if (r) {
        return {};
    }
    return to_problem(r.error());
}

}  // namespace keel::http
