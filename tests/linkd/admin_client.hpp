#pragma once
// What linkd's tests read off a running instance's admin listener (or any port): a GET's body
// and status, and one sample of a Prometheus scrape.

#include <keel/testing/test_server.hpp>

#include <chrono>
#include <string>

namespace linkd::test {

inline std::string get(int port, const std::string& path, int* status = nullptr,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    keel::testing::RawClient c(static_cast<std::uint16_t>(port), timeout);
    auto r = c.exchange("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n");
    if (status) {
        *status = r ? r->status : 0;
    }
    return r ? r->body : "";
}

/// The value of one sample line ("name{labels} value") in a scrape; -1 when absent.
inline double sample(const std::string& scrape, const std::string& series) {
    std::size_t at = scrape.find("\n" + series + " ");
    if (at == std::string::npos) {
        return -1;
    }
    return std::stod(scrape.substr(at + series.size() + 2));
}

/// One sample of an instance's /metrics; -1 when absent.
inline double metric(int admin_port, const std::string& series) {
    return sample(get(admin_port, "/metrics"), series);
}

}  // namespace linkd::test
