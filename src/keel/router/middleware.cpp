#include <keel/router/middleware.hpp>

namespace keel::router {

http::Handler chain(const std::vector<Middleware>& mws, http::Handler h) {
    for (auto it = mws.rbegin(); it != mws.rend(); ++it) {
        h = (*it)(std::move(h));
    }
    return h;
}

namespace {
Task<http::Response> run_after(Task<http::Response> inner, http::Request& req, const After& after) {
    http::Response res = co_await std::move(inner);
    after(req, res);
    co_return res;
}
}  // namespace

http::Handler wrap(http::Handler next, Before before, After after) {
    return [next = std::move(next), before = std::move(before), after = std::move(after)](
               http::Request& req) -> http::Outcome {
        if (before) {
            if (std::optional<http::Response> early = before(req)) {
                return http::Outcome(std::move(*early));
            }
        }
        http::Outcome out = next.invoke(req);
        if (!after) {
            return out;
        }
        if (out.ready()) {
            after(req, out.response());
            return out;
        }
        // `after` lives in this handler, which outlives every request it serves.
        return http::Outcome(run_after(out.take_task(), req, after));
    };
}

}  // namespace keel::router
