#include <keel/middleware/access_log.hpp>
#include <keel/middleware/real_ip.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/trace_context.hpp>

namespace keel::mw {

http::Middleware access_log(std::function<void(const AccessRecord&)> sink) {
    return [sink = std::move(sink)](http::Handler next) {
        // The start time goes into the request context, so concurrent requests never share it.
        struct Started {
            Clock::time_point at;
        };
        return http::wrap(
            std::move(next),
            [](http::Request& req) -> std::optional<http::Response> {
                req.context().set(Started{Clock::now()});
                return std::nullopt;
            },
            [sink](http::Request& req, http::Response& res) {
                const Started* s = req.context().get<Started>();
                auto elapsed =
                    std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - (s ? s->at : Clock::now()));
                const ClientIp* ip = req.context().get<ClientIp>();
                std::string peer;
                if (!ip) {
                    peer = req.remote_address().host();
                }
                const http::TraceContext* trace = trace_of(req);
                std::string trace_id = trace ? trace->trace_id_hex() : std::string();
                sink(AccessRecord{req.method_name(), req.route(), req.path(), res.status(),
                                  res.is_stream() ? -1 : static_cast<std::int64_t>(res.body_size()), elapsed,
                                  request_id_of(req), ip ? ip->view() : std::string_view(peer),
                                  req.header("User-Agent").value_or(""), trace_id, req.protocol()});
            });
    };
}

}  // namespace keel::mw
