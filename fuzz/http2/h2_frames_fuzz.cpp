// libFuzzer target for keel's HTTP/2 path: nghttp2's framing plus keel's callbacks (header
// accounting, stream lifetimes, body limits, flood buckets, responses, streamed responses and
// streamed request bodies on paths starting with /u).
// Each input is sent after the client preface to a real server on loopback (one loop thread,
// h2c, small limits) over a fresh connection; the client half-closes and reads until the
// server closes. ASan/UBSan watch the server thread; the server must also still answer an
// ordinary HTTP/2 request afterwards, or the input broke it.
#include <keel/http/sse.hpp>
#include <keel/testing/test_server.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

using namespace keel;
using namespace std::chrono_literals;

namespace {

http::Outcome handle(http::Request& req) {
    if (req.path() == "/stream") {
        return http::sse([](http::SseWriter& out) -> Task<void> {
            for (int i = 0; i < 3; ++i) {
                if (!co_await out.send({.data = "x"})) {
                    break;
                }
            }
        });
    }
    if (req.body_stream()) {
        return [](http::Request& req) -> Task<http::Response> {
            std::size_t total = 0;
            for (;;) {
                auto piece = co_await req.body_stream()->read();
                if (!piece || piece->empty()) {
                    break;
                }
                total += piece->size();
            }
            co_return http::Response::text(std::to_string(total));
        }(req);
    }
    return http::Response::text(std::string(req.body().substr(0, 64)));
}

testing::TestServer& server() {
    static std::unique_ptr<testing::TestServer> srv = [] {
        http::ServerOptions o = testing::TestServer::default_options();
        o.h2c = true;
        o.h2_max_concurrent_streams = 8;
        o.limits.max_header_bytes = 2048;
        o.limits.max_body_bytes = 4096;
        o.read_timeout = 200ms;
        o.write_timeout = 200ms;
        o.stream_body = [](const http::Request& req) { return req.path().starts_with("/u"); };
        return std::make_unique<testing::TestServer>(handle, o);
    }();
    return *srv;
}

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// SETTINGS (empty), then HEADERS for GET / on stream 1 with END_STREAM, HPACK-encoded with
// static-table indexes only (:method GET, :scheme http, :path /) and a literal :authority.
const std::string kSanity = [] {
    std::string s(kPreface);
    s.append("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
    std::string block = "\x82\x86\x84\x41\x01x";
    s.push_back('\0');
    s.push_back('\0');
    s.push_back(static_cast<char>(block.size()));
    s.append("\x01\x05\x00\x00\x00\x01", 6);
    return s + block;
}();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    testing::TestServer& srv = server();
    {
        testing::RawClient c(srv.port(), 2000ms);
        std::string bytes(kPreface);
        bytes.append(reinterpret_cast<const char*>(data), size);
        c.send(bytes);
        c.shutdown_write();
        (void)c.read_until_close();
    }
    // Still serving: a plain request on a new connection gets its 200 HEADERS frame. A first
    // miss is reported and retried once (an open finding, see docs/http-server.md); a second
    // one means the server stopped serving.
    for (int attempt = 1;; ++attempt) {
        testing::RawClient c(srv.port(), attempt == 1 ? 2000ms : 10000ms);
        c.send(kSanity);
        c.shutdown_write();
        std::string reply = c.read_until_close();
        // Our HEADERS frame for stream 1: its block starts with :status 200 (static index 8: 0x88).
        if (reply.find(std::string("\x00\x00\x00\x01\x88", 5)) != std::string::npos) {
            break;
        }
        http::ServerStats st = srv.server().stats();
        std::fprintf(stderr, "sanity request %d not answered (%llu connections open, %llu accepted), %zu bytes back\n",
                     attempt, static_cast<unsigned long long>(st.connections_open),
                     static_cast<unsigned long long>(st.connections_accepted), reply.size());
        if (attempt == 2) {
            std::abort();
        }
    }
    return 0;
}
