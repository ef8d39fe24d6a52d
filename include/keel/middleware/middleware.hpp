#pragma once
/// Every middleware of keel::mw, for convenience. Each also has its own header.

#include <keel/middleware/access_log.hpp>
#include <keel/middleware/basics.hpp>
#include <keel/middleware/compress.hpp>
#include <keel/middleware/cors.hpp>
#include <keel/middleware/real_ip.hpp>
#include <keel/middleware/recoverer.hpp>
#include <keel/middleware/request_id.hpp>
#include <keel/middleware/throttle.hpp>
#include <keel/middleware/timeout.hpp>
