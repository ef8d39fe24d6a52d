#pragma once
/// keel::mw::timeout(d): a deadline for the coroutine handlers inside it. When it passes, the
/// request's stop token fires (so sleeps, offloads and client calls that observe it return at
/// once) and the answer is 503 problem+json, whatever the handler returns afterwards. The
/// middleware waits for the handler to finish before answering, so the request is never freed
/// under a running coroutine; a handler that ignores its stop token delays the 503.
/// Plain handlers run to completion inline and are not affected.
/// server.handler_timeout is the server-wide backstop; use this one per route group.

#include <keel/core/loop.hpp>
#include <keel/http/middleware.hpp>

namespace keel::mw {

http::Middleware timeout(Duration deadline);

}  // namespace keel::mw
