#pragma once
/// keel::mw::throttle: at most `limit` requests in flight inside it (across all loop threads).
/// Up to `backlog` more may wait up to `backlog_timeout` for a slot; beyond that, or after the
/// wait, the answer is 503 problem+json with `Retry-After`. Protects a slow dependency from a
/// pile-up; the waiting is cooperative (coroutines polling every millisecond), not a thread block.

#include <keel/core/loop.hpp>
#include <keel/http/middleware.hpp>

#include <chrono>

namespace keel::mw {

struct ThrottleOptions {
    int limit = 100;
    int backlog = 0;
    Duration backlog_timeout = std::chrono::seconds(1);
    std::chrono::seconds retry_after{1};
};

http::Middleware throttle(ThrottleOptions options);

}  // namespace keel::mw
