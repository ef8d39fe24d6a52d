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
