#include <keel/http/problem.hpp>
#include <keel/middleware/recoverer.hpp>
#include <keel/middleware/request_id.hpp>

namespace keel::mw {
namespace {

http::Response internal_error(const PanicReport& report, std::string_view what, http::Request& req) {
    if (report) {
        report(what, req);
    }
    http::Response res = http::problem(500, "the server could not complete the request", req.path());
    attach_request_id(req, res);  // request_id ran inside us: its after-step was skipped
    return res;
}

Task<http::Response> guard(Task<http::Response> inner, http::Request& req, const PanicReport& report) {
    std::string what;
    try {
        co_return co_await std::move(inner);
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
        what = "unknown exception";
    }
    co_return internal_error(report, what, req);
}

}  // namespace

http::Middleware recoverer(PanicReport report) {
    return [report = std::move(report)](http::Handler next) -> http::Handler {
        return [next = std::move(next), report](http::Request& req) -> http::Outcome {
            try {
                http::Outcome out = next.invoke(req);
                if (out.ready()) {
                    return out;
                }
                return http::Outcome(guard(out.take_task(), req, report));
            } catch (const std::exception& e) {
                return internal_error(report, e.what(), req);
            } catch (...) {
                return internal_error(report, "unknown exception", req);
            }
        };
    };
}

}  // namespace keel::mw
