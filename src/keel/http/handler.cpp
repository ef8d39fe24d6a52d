#include <keel/http/handler.hpp>

namespace keel::http {

namespace {
Task<Response> ready_task(Response r) { co_return r; }
}  // namespace

Task<Response> Outcome::into_task() {
    if (ready_) {
        return ready_task(std::move(*ready_));
    }
    return std::move(task_);
}

Task<Response> Handler::operator()(Request& req) const {
    Outcome o = invoke(req);
    if (o.ready()) {
        co_return std::move(o.response());
    }
    co_return co_await o.take_task();
}

}  // namespace keel::http
