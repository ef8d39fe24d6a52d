#pragma once
/// keel::observe::Health: liveness and readiness with named checks that components register.
///
///     health.add_check("database", [&]() -> Task<Result<void>> { co_return co_await repo.ping(); });
///
///   GET /livez             200 {"status":"ok"}: the process serves requests
///   GET /readyz            200 {"status":"ready"} when accepting and every check passes;
///                          503 problem+json naming the failing checks otherwise
///   GET /readyz?verbose    the same, with "checks": {"database":"ok", ...} (also on 503)
///
/// A check added as optional (a dependency the service degrades without, such as a shared
/// cache) is reported under ?verbose but never makes the service unready: taking every
/// instance out of the load balancer because Redis is down would turn a degradation into an
/// outage.
///
/// Readiness is false from the moment shutdown starts (`accepting` returns false), so load
/// balancers stop sending traffic before the listeners close.

#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/http/handler.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace keel::observe {

class Health {
  public:
    using Check = std::function<Task<Result<void>>()>;
    enum class Need { required, optional };

    explicit Health(std::function<bool()> accepting = [] { return true; }) : accepting_(std::move(accepting)) {}

    void set_accepting(std::function<bool()> accepting) { accepting_ = std::move(accepting); }
    void add_check(std::string name, Check check, Need need = Need::required);

    http::Handler livez() const;
    http::Handler readyz() const;

  private:
    struct Named {
        std::string name = {};
        Check check = {};
        Need need = {};
    };
    std::function<bool()> accepting_;
    std::shared_ptr<std::vector<Named>> checks_ = std::make_shared<std::vector<Named>>();
};

}  // namespace keel::observe
