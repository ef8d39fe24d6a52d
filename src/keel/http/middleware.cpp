#include <keel/http/middleware.hpp>

namespace keel::http {

Handler chain(const std::vector<Middleware>& mws, Handler h) {
    for (auto it = mws.rbegin(); it != mws.rend(); ++it) {
        h = (*it)(std::move(h));
    }
    return h;
}

namespace {
Task<Response> run_after(Task<Response> inner, Request& req, const After& after) {
    Response res = co_await std::move(inner);
    after(req, res);
    co_return res;
}
}  // namespace

Handler wrap(Handler next, Before before, After after) {
    return [next = std::move(next), before = std::move(before), after = std::move(after)](Request& req) -> Outcome {
        if (before) {
            if (std::optional<Response> early = before(req)) {
                return Outcome(std::move(*early));
            }
        }
        Outcome out = next.invoke(req);
        if (!after) {
            return out;
        }
        if (out.ready()) {
            after(req, out.response());
            return out;
        }
        // `after` lives in this handler, which outlives every request it serves.
        return Outcome(run_after(out.take_task(), req, after));
    };
}

}  // namespace keel::http
