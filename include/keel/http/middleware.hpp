#pragma once
/// keel::http::Middleware: a function from Handler to Handler, like Go's
/// func(http.Handler) http.Handler. `chain(a, b)(h)` is `a(b(h))`: the first is outermost.
///
/// wrap() builds a middleware from a `before` step (may answer early) and an `after` step that
/// works for plain and coroutine handlers alike, so most middleware are a few lines.

#include <keel/http/handler.hpp>

#include <functional>
#include <optional>
#include <vector>

namespace keel::http {

using Middleware = std::function<Handler(Handler)>;

/// Applies `mws` around `h`, first = outermost.
Handler chain(const std::vector<Middleware>& mws, Handler h);

/// before(req) → a Response to answer at once (the rest of the chain does not run), or nullopt.
/// after(req, res) → adjusts the response on the way out. Either may be empty.
using Before = std::function<std::optional<Response>(Request&)>;
using After = std::function<void(Request&, Response&)>;

/// Runs `before` and `after` around the next handler, preserving whether it is plain or
/// a coroutine.
Handler wrap(Handler next, Before before, After after);

}  // namespace keel::http
