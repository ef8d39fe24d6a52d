#include <keel/observe/health.hpp>

#include <keel/http/problem.hpp>
#include <keel/http/query.hpp>
#include <keel/json/writer.hpp>

namespace keel::observe {

void Health::add_check(std::string name, Check check, Need need) {
    checks_->push_back({std::move(name), std::move(check), need});
}

http::Handler Health::livez() const {
    return [](http::Request&) { return http::Response::json(R"({"status":"ok"})"); };
}

http::Handler Health::readyz() const {
    auto checks = checks_;
    const Health* self = this;
    return [checks, self](http::Request& req) -> Task<http::Response> {
        bool verbose = http::query_param(req.query(), "verbose").has_value();
        std::vector<std::pair<std::string, std::string>> results;
        std::string failed;
        if (!self->accepting_()) {
            results.emplace_back("shutdown", "shutting down");
            failed = "shutdown";
        }
        for (const auto& c : *checks) {
            std::string outcome = "ok";
            try {
                if (auto r = co_await c.check(); !r) {
                    outcome = std::string(r.error().message());
                }
            } catch (const std::exception& e) {
                outcome = e.what();
            }
            if (outcome != "ok" && c.need == Need::required) {
                failed += (failed.empty() ? "" : ", ") + c.name;
            }
            results.emplace_back(c.name, std::move(outcome));
        }
        auto checks_json = [&] {
            std::string out = "{";
            for (std::size_t i = 0; i < results.size(); ++i) {
                if (i) {
                    out += ',';
                }
                json::write_string(out, results[i].first);
                out += ':';
                json::write_string(out, results[i].second);
            }
            return out + "}";
        };
        if (failed.empty()) {
            std::string body = R"({"status":"ready")";
            if (verbose) {
                body += ",\"checks\":" + checks_json();
            }
            co_return http::Response::json(body + "}");
        }
        http::Response r = http::problem(503, "not ready: " + failed, req.path());
        if (verbose) {
            // An RFC 9457 extension member: insert "checks" before the closing brace.
            std::string body(r.body_view());
            body.pop_back();
            body += ",\"checks\":" + checks_json() + "}";
            r.body_buffer() = std::move(body);
        }
        r.header("Retry-After", "1");
        co_return r;
    };
}

}  // namespace keel::observe
