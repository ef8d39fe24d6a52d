#pragma once
/// Convenience header: the types most services use, under `keel::`.
/// Include the module headers directly when you care about compile times.

#include <keel/app/app.hpp>
#include <keel/core/offload.hpp>
#include <keel/core/sleep.hpp>
#include <keel/core/task.hpp>
#include <keel/http/handler.hpp>
#include <keel/http/problem.hpp>
#include <keel/http/request.hpp>
#include <keel/http/response.hpp>
#include <keel/http/json.hpp>
#include <keel/middleware/middleware.hpp>
#include <keel/router/router.hpp>

namespace keel {
using http::bind;
using http::Handler;
using http::json_response;
using http::Problem;
using http::problem;
using http::ProblemOr;
using http::Request;
using http::Response;
using http::Middleware;
using router::Router;
}  // namespace keel
