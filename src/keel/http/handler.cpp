#include <keel/http/handler.hpp>

namespace keel::http {

Task<Response> Handler::operator()(Request& req) const {
    if (async_) {
        co_return co_await async_(req);
    }
    co_return sync_(req);
}

}  // namespace keel::http
