#pragma once
// A small HTTP client for linkd's end-to-end tests: one real TCP connection per call
// (keel::testing::RawClient), and a record of every exchange for the contract check
// (tools/contract/validate.mjs validates each recorded body and status against openapi.yaml).

#include <keel/json/writer.hpp>
#include <keel/testing/test_server.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace linkd::test {

struct Reply {
    int status = 0;
    std::string body;
    keel::testing::RawResponse raw;
    std::optional<std::string> header(std::string_view name) const { return raw.header(name); }
};

class ApiClient {
  public:
    explicit ApiClient(std::uint16_t port) : port_(port) {}

    Reply call(std::string_view method, std::string_view target, std::optional<std::string_view> body = std::nullopt,
               std::string_view key = {}, std::vector<std::pair<std::string, std::string>> headers = {},
               std::string_view content_type = "application/json") {
        std::string req = std::string(method) + " " + std::string(target) +
                          " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n";
        if (!key.empty()) {
            req += "Authorization: Bearer " + std::string(key) + "\r\n";
        }
        for (auto& [n, v] : headers) {
            req += n + ": " + v + "\r\n";
        }
        if (body) {
            req += "Content-Type: " + std::string(content_type) +
                   "\r\nContent-Length: " + std::to_string(body->size()) + "\r\n";
        }
        req += "\r\n";
        if (body) {
            req += *body;
        }
        keel::testing::RawClient c(port_);
        auto res = c.exchange(req);
        EXPECT_TRUE(res.has_value()) << "no response to " << method << " " << target;
        Reply r;
        if (!res) {
            return r;
        }
        r.status = res->status;
        r.body = res->body;
        r.raw = *res;
        EXPECT_TRUE(res->header("X-Request-ID").has_value()) << method << " " << target << " has no X-Request-ID";
        record(method, target, r);
        return r;
    }

    /// Writes the exchanges as JSON lines (see tools/contract/validate.mjs).
    void save(const std::string& path) const {
        std::ofstream out(path);
        out << log_;
    }
    std::size_t recorded() const noexcept { return count_; }

  private:
    void record(std::string_view method, std::string_view target, const Reply& r) {
        std::string path(target.substr(0, target.find('?')));
        std::string line = "{\"method\":";
        keel::json::write_string(line, method);
        line += ",\"path\":";
        keel::json::write_string(line, path);
        line += ",\"status\":" + std::to_string(r.status) + ",\"content_type\":";
        keel::json::write_string(line, r.header("Content-Type").value_or(""));
        line += ",\"body\":";
        keel::json::write_string(line, r.body);
        line += "}\n";
        log_ += line;
        ++count_;
    }

    std::uint16_t port_;
    std::string log_;
    std::size_t count_ = 0;
};

}  // namespace linkd::test
