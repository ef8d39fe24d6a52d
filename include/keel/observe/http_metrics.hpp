#pragma once
/// keel::observe::http_metrics: the request metrics middleware. Install it outermost (after
/// the recoverer) so that 404s, 405s and early answers are counted too:
///
///   keel_http_requests_total{method, route, code}        counter (code: 1xx … 5xx)
///   keel_http_request_duration_seconds{method, route}    histogram
///   keel_http_requests_in_flight                          gauge
///
/// `route` is the matched template ("/v1/links/{slug}"), never the raw path, so label
/// cardinality stays bounded; unmatched requests have route "" and methods outside the
/// standard ones are "OTHER".
///
/// Bad requests answered by the server before any handler ran are counted too, by
/// count_server_answers().

#include <keel/http/middleware.hpp>
#include <keel/observe/metrics.hpp>
#include <keel/server/server_options.hpp>

namespace keel::observe {

http::Middleware http_metrics(metrics::Registry& registry);

/// Counts the answers the server gives itself (server::ServerAnswer: 400, 408, 413, 414, 431,
/// 503 past the handler deadline, ...) in keel_http_requests_total with route "" and method ""
/// when the request line was not read. Set it as ServerOptions::on_answer (keel::App does
/// when http_metrics() is used).
std::function<void(const server::ServerAnswer&)> count_server_answers(metrics::Registry& registry);

}  // namespace keel::observe
