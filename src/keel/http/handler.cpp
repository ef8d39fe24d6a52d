#include <keel/http/handler.hpp>

namespace keel::http {

Task<Response> Handler::operator()(Request& req) const {
    Outcome o = invoke(req);
    if (o.ready()) {
        co_return std::move(o.response());
    }
    co_return co_await o.take_task();
}

}  // namespace keel::http

namespace keel::http {

Response respond(ProblemOr r, Request& req) {
    return r ? std::move(*r) : problem_for(std::move(r).error(), req.path());
}

Task<Response> respond(Task<ProblemOr> task, Request& req) {
    ProblemOr r = co_await std::move(task);
    co_return respond(std::move(r), req);
}

}  // namespace keel::http
