#pragma once
/// RFC 9457 problem details (application/problem+json), the body of every error keel itself
/// produces. `problem(status, detail)` builds the Response; for 5xx the detail should be generic
/// (never internals), the server's own 5xx use fixed texts.

#include <keel/http/response.hpp>

#include <string_view>

namespace keel::http {

struct Problem {
    int status = 500;
    std::string_view detail;    ///< human explanation of this occurrence
    std::string_view instance;  ///< the request path, when known
    std::string_view type = "about:blank";
    std::string_view title;     ///< defaults to the status' reason phrase
};

/// A problem+json response: {"type","title","status","detail","instance"}.
Response problem(const Problem& p);
inline Response problem(int status, std::string_view detail, std::string_view instance = {}) {
    return problem(Problem{status, detail, instance});
}

/// Appends `s` to `out` as a JSON string literal (quotes included), escaping control
/// characters, quotes, backslashes, U+2028/U+2029, and replacing invalid UTF-8 with U+FFFD.
void append_json_string(std::string& out, std::string_view s);

}  // namespace keel::http
