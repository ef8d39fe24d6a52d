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

#include <keel/observe/metrics.hpp>
#include <keel/router/middleware.hpp>

namespace keel::observe {

router::Middleware http_metrics(metrics::Registry& registry);

}  // namespace keel::observe
