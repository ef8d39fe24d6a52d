#pragma once
/// In-process handler testing without sockets, like Go's httptest.ResponseRecorder:
///
///     auto res = keel::testing::call(handler, keel::testing::TestRequest{"POST", "/echo"}
///                                                 .with_header("Content-Type", "application/json")
///                                                 .with_body(R"({"name":"x"})"));
///     EXPECT_EQ(res.status, 200);
///
/// Coroutine handlers run on a private Loop on the calling thread until they finish; keel::offload
/// runs on `workers`, or on a one-thread pool of the call's own when none is given. Streamed and file bodies are
/// collected whole. No framing is applied: HEAD gets the body the handler produced, and no Date/Content-Length are
/// added.

#include <keel/core/worker_pool.hpp>
#include <keel/http/handler.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace keel::testing {

struct TestRequest {
    std::string method = "GET";
    std::string target = "/";
    std::vector<std::pair<std::string, std::string>> headers = {};
    std::string body = {};
    int version_minor = 1;

    TestRequest() = default;
    TestRequest(std::string m, std::string t) : method(std::move(m)), target(std::move(t)) {}
    TestRequest&& with_header(std::string name, std::string value) && {
        headers.emplace_back(std::move(name), std::move(value));
        return std::move(*this);
    }
    TestRequest&& with_body(std::string b) && {
        body = std::move(b);
        return std::move(*this);
    }
};

struct RecordedResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers = {};
    std::string body = {};
    bool close_requested = false;

    /// First header of that name (case-insensitive).
    std::optional<std::string> header(std::string_view name) const;
};

/// Runs `handler` on `request` and records the response. Exceptions from the handler propagate.
RecordedResponse call(const http::Handler& handler, const TestRequest& request, WorkerPool* workers = nullptr);

}  // namespace keel::testing
