// The Idempotency-Key middleware: begin → run → complete (or release) around the next handler.
// Requests without the header cost nothing: they are passed on as they are.
#include <keel/http/problem.hpp>
#include <keel/idempotency/middleware.hpp>
#include <keel/json/reader.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <exception>
#include <memory>

namespace keel::idempotency {
namespace {

constexpr std::size_t kMaxKeyLength = 255;

UnixMillis to_millis(Duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::string hex(const unsigned char* bytes, std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(kDigits[bytes[i] >> 4]);
        out.push_back(kDigits[bytes[i] & 0xf]);
    }
    return out;
}

// What makes two requests with one key "the same request": their Content-Type, query and body.
std::string fingerprint(const http::Request& req) {
    std::string_view type = req.header("Content-Type").value_or("");
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int n = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    for (std::string_view part : {type, std::string_view("\n"), req.query(), std::string_view("\n"), req.body()}) {
        EVP_DigestUpdate(ctx, part.data(), part.size());
    }
    EVP_DigestFinal_ex(ctx, digest.data(), &n);
    EVP_MD_CTX_free(ctx);
    return hex(digest.data(), n);
}

// Who runs a key now: unique per attempt, so a run that lost its key cannot store over another's.
std::string new_owner() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("idempotency: no random bytes");
    }
    return hex(bytes.data(), bytes.size());
}

http::Response problem(http::Request& req, int status, std::string detail, bool retry_after = false) {
    http::Problem p{.status = status, .detail = std::move(detail)};
    if (retry_after) {
        p.headers = {{"Retry-After", "1"}};
    }
    return http::problem_for(std::move(p), req.path());
}

bool repeated_header(const http::Request& req, std::string_view name) {
    int n = 0;
    for (const http::Header& h : req.headers()) {
        n += h.name.size() == name.size() && std::equal(h.name.begin(), h.name.end(), name.begin(), [](char a, char b) {
                 return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
             });
    }
    return n > 1;
}

// Transient answers and bodies the store cannot keep free the key instead: a retry runs again.
bool storable(const http::Response& res, std::size_t max_body) {
    int s = res.status();
    if (s == 408 || s == 429 || s >= 500 || res.is_stream() || res.has_file_body() || res.is_upgrade()) {
        return false;
    }
    std::string_view body = res.body_view();
    return body.size() <= max_body && body.find('\0') == std::string_view::npos && json::is_valid_utf8(body);
}

http::Response replayed(const StoredResponse& stored) {
    http::Response res(stored.status);
    std::string_view lines = stored.headers;
    while (!lines.empty()) {
        std::size_t end = lines.find("\r\n");
        std::string_view line = lines.substr(0, end);
        lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 2);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        res.header(line.substr(0, colon), value);
    }
    res.body(stored.body);
    res.set_header("Idempotent-Replayed", "true");
    return res;
}

Task<http::Response> once(Store& store, const Options& o, const http::Handler& next, http::Request& req, Scope scope) {
    std::string print = fingerprint(req);
    std::string owner = new_owner();
    UnixMillis now = o.clock();
    auto begun =
        co_await store.begin(scope, print, owner, now, now + to_millis(o.lock_timeout), now + to_millis(o.ttl));
    if (!begun) {
        co_return problem(req, 503, "the idempotency keys cannot be read now; retry shortly", true);
    }
    switch (begun->outcome) {
        case Begun::Outcome::replay:
            co_return replayed(begun->response);
        case Begun::Outcome::in_progress:
            co_return problem(req, 409, "a request with this Idempotency-Key is still being processed; retry later",
                              true);
        case Begun::Outcome::mismatch:
            co_return problem(req, 422,
                              "this Idempotency-Key was used for a different request (its body, query or "
                              "Content-Type differ)");
        case Begun::Outcome::run:
            break;
    }
    std::exception_ptr failed;
    std::optional<http::Response> res;
    try {
        http::Outcome out = next.invoke(req);
        if (out.ready()) {
            res.emplace(std::move(out.response()));
        } else {
            res.emplace(co_await out.take_task());
        }
    } catch (...) {
        failed = std::current_exception();  // (no co_await inside a handler: release below)
    }
    if (failed || !storable(*res, o.max_response)) {
        // Not freed (the store is down): the key frees itself after lock_timeout.
        auto freed = co_await store.release(scope, owner);
        (void)freed;
        if (failed) {
            std::rethrow_exception(failed);
        }
        co_return std::move(*res);
    }
    StoredResponse stored{
        .status = res->status(), .headers = std::string(res->header_block()), .body = std::string(res->body_view())};
    // Not stored (the store is down): a repeat gets 409 until lock_timeout, then runs again.
    auto kept = co_await store.complete(std::move(scope), std::move(owner), std::move(stored));
    (void)kept;
    co_return std::move(*res);
}

}  // namespace

UnixMillis system_clock_millis() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::optional<std::string> parse_key(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
    }
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
        v.remove_suffix(1);
    }
    std::string key;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        // An sf-string (RFC 8941 3.3.3): printable ASCII, with \" and \\ escaped.
        for (std::size_t i = 1; i + 1 < v.size(); ++i) {
            char c = v[i];
            if (c == '\\') {
                if (i + 2 >= v.size() || (v[i + 1] != '"' && v[i + 1] != '\\')) {
                    return std::nullopt;
                }
                c = v[++i];
            } else if (c == '"' || c < 0x20 || c > 0x7e) {
                return std::nullopt;
            }
            key.push_back(c);
        }
    } else {
        // A bare token, as many clients send it: visible ASCII without quotes, commas or spaces.
        for (char c : v) {
            if (c <= 0x20 || c > 0x7e || c == '"' || c == ',' || c == '\\') {
                return std::nullopt;
            }
        }
        key = std::string(v);
    }
    if (key.empty() || key.size() > kMaxKeyLength) {
        return std::nullopt;
    }
    return key;
}

http::Middleware middleware(Store& store, Options options) {
    auto o = std::make_shared<const Options>(std::move(options));
    return [&store, o](http::Handler next) -> http::Handler {
        return [&store, o, next = std::move(next)](http::Request& req) -> http::Outcome {
            std::optional<std::string_view> header = req.header("Idempotency-Key");
            if (header && repeated_header(req, "Idempotency-Key")) {
                return problem(req, 400, "a request takes one Idempotency-Key header, not several");
            }
            if (!header) {
                if (o->required) {
                    return problem(req, 400, "this operation needs an Idempotency-Key header");
                }
                return next.invoke(req);
            }
            std::optional<std::string> key = parse_key(*header);
            if (!key) {
                return problem(req, 400,
                               "the Idempotency-Key header must be a string of 1 to 255 visible ASCII characters "
                               "(\"…\" or a bare token)");
            }
            std::optional<std::string> principal = o->principal ? o->principal(req) : std::optional<std::string>("");
            if (!principal) {
                return next.invoke(req);
            }
            Scope scope{.principal = std::move(*principal),
                        .key = std::move(*key),
                        .method = std::string(req.method_name()),
                        .path = std::string(req.path())};
            return once(store, *o, next, req, std::move(scope));
        };
    };
}

}  // namespace keel::idempotency
