#include <keel/middleware/request_id.hpp>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

namespace keel::mw {
namespace {

bool valid_incoming(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == ':' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

// xoshiro256** seeded per thread from random_device: fast, and ids from different threads and
// processes do not collide in practice (128 random bits per id).
struct Rng {
    std::uint64_t s[4];
    Rng() {
        std::random_device rd;
        for (auto& x : s) {
            x = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        }
    }
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t next() {
        std::uint64_t result = rotl(s[1] * 5, 7) * 9;
        std::uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
    }
};

void generate(RequestId& id) {
    thread_local Rng rng;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int half = 0; half < 2; ++half) {
        std::uint64_t v = rng.next();
        for (int i = 0; i < 16; ++i) {
            id.data[half * 16 + i] = kHex[(v >> (i * 4)) & 0xF];
        }
    }
    id.size = 32;
}

void add_to_problem(http::Response& res, std::string_view id) {
    auto ct = res.header_value("Content-Type");
    if (!ct || ct->substr(0, 24) != "application/problem+json" || res.is_stream()) {
        return;
    }
    std::string_view body = res.body_view();
    if (body.empty() || body.back() != '}' || body.find("\"request_id\"") != std::string_view::npos) {
        return;
    }
    std::string& b = res.body_buffer();  // copies a static body into the buffer if needed
    if (b.empty()) {
        b.assign(body.data(), body.size());
    }
    b.pop_back();
    b.append(",\"request_id\":\"").append(id).append("\"}");  // id chars need no escaping
}

}  // namespace

std::string_view request_id_of(http::Request& req) noexcept {
    const RequestId* id = req.context().get<RequestId>();
    return id ? id->view() : std::string_view{};
}

void attach_request_id(http::Request& req, http::Response& res) {
    std::string_view id = request_id_of(req);
    if (id.empty()) {
        return;
    }
    res.set_header("X-Request-ID", id);
    add_to_problem(res, id);
}

router::Middleware request_id() {
    return [](http::Handler next) {
        return router::wrap(
            std::move(next),
            [](http::Request& req) -> std::optional<http::Response> {
                RequestId id;
                auto incoming = req.header("X-Request-ID");
                if (incoming && valid_incoming(*incoming)) {
                    std::memcpy(id.data, incoming->data(), incoming->size());
                    id.size = static_cast<unsigned char>(incoming->size());
                } else {
                    generate(id);
                }
                req.context().set(id);
                return std::nullopt;
            },
            [](http::Request& req, http::Response& res) { attach_request_id(req, res); });
    };
}

}  // namespace keel::mw
