#include <keel/middleware/trace_context.hpp>

namespace keel::mw {

http::Middleware trace_context() {
    return [](http::Handler next) {
        return http::wrap(std::move(next),
                          [](http::Request& req) -> std::optional<http::Response> {
                              auto incoming = req.header("traceparent");
                              std::optional<http::TraceContext> parsed;
                              if (incoming) {
                                  parsed = http::parse_traceparent(*incoming);
                              }
                              req.context().set(parsed ? http::continue_trace(*parsed) : http::new_trace());
                              return std::nullopt;
                          },
                          {});
    };
}

const http::TraceContext* trace_of(http::Request& req) noexcept {
    return req.context().get<http::TraceContext>();
}

}  // namespace keel::mw
