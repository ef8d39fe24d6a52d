#pragma once
/// Convenience header: what most services use, under `keel::`. It includes every module's
/// main headers (the program still links only the modules it names: unused headers cost
/// compile time, not libraries). Include the module headers directly when you care about
/// compile times. Test helpers are not in it: tests include keel/testing/ themselves.

#include <keel/app/app.hpp>
#include <keel/cache/cache_aside.hpp>
#include <keel/cache/lru_cache.hpp>
#include <keel/core/loop_thread.hpp>
#include <keel/core/offload.hpp>
#include <keel/core/sleep.hpp>
#include <keel/core/task.hpp>
#include <keel/db/scan.hpp>
#include <keel/http/body_stream.hpp>
#include <keel/http/handler.hpp>
#include <keel/http/json.hpp>
#include <keel/http/problem.hpp>
#include <keel/http/query.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>
#include <keel/middleware/middleware.hpp>
#include <keel/ratelimit/limiter.hpp>
#include <keel/ratelimit/middleware.hpp>
#include <keel/router/router.hpp>
#include <keel/sqlite/sqlite.hpp>
#include <keel/version.hpp>
#include <keel/web/cookie.hpp>
#include <keel/web/form.hpp>
#include <keel/web/hub.hpp>
#include <keel/web/multipart.hpp>
#include <keel/web/signed_cookie.hpp>
#include <keel/web/sse.hpp>
#include <keel/web/static_files.hpp>
#include <keel/web/websocket.hpp>

namespace keel {
using http::bind;
using http::Handler;
using http::json_response;
using http::Middleware;
using http::Problem;
using http::problem;
using http::ProblemOr;
using http::query_param;
using http::query_scalar;
using http::Request;
using http::Response;
using router::Router;
}  // namespace keel
