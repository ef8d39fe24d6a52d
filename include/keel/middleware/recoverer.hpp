#pragma once
/// keel::mw::recoverer: turns an exception escaping the handlers inside it (thrown at once or
/// from a coroutine) into a 500 problem+json that says nothing about the cause, and reports the
/// exception to `report` (what() and the request, for logging with its id). Must be the
/// outermost middleware so that nothing escapes past it.

#include <keel/http/middleware.hpp>

#include <functional>
#include <string_view>

namespace keel::mw {

using PanicReport = std::function<void(std::string_view what, http::Request& req)>;

http::Middleware recoverer(PanicReport report = {});

}  // namespace keel::mw
