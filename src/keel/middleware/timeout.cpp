#include <keel/http/problem.hpp>
#include <keel/middleware/timeout.hpp>

namespace keel::mw {
namespace {

Task<http::Response> with_deadline(Task<http::Response> inner, http::Request& req, Duration deadline) {
    Loop* loop = Loop::current();
    bool expired = false;
    TimerId timer = 0;
    if (loop) {
        timer = loop->run_after(deadline, [&] {
            expired = true;
            req.cancel();
        });
    }
    struct CancelTimer {
        Loop* loop;
        TimerId id;
        ~CancelTimer() {
            if (loop) {
                loop->cancel(id);
            }
        }
    } guard{loop, timer};
    http::Response res = co_await std::move(inner);
    if (expired) {
        co_return http::problem(503, "the request took too long to process", req.path());
    }
    co_return res;
}

}  // namespace

http::Middleware timeout(Duration deadline) {
    return [deadline](http::Handler next) -> http::Handler {
        return [next = std::move(next), deadline](http::Request& req) -> http::Outcome {
            http::Outcome out = next.invoke(req);
            if (out.ready()) {
                return out;
            }
            return http::Outcome(with_deadline(out.take_task(), req, deadline));
        };
    };
}

}  // namespace keel::mw
