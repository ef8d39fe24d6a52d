// The hot paths (plaintext, JSON, a coroutine handler, pipelining) make no heap allocation per
// request once the loop is warm. This binary replaces global operator new to count every
// allocation made on a keel loop thread (Loop::current() != nullptr) and checks that serving a
// thousand more requests adds none.
#include <keel/core/loop.hpp>
#include <keel/json/writer.hpp>
#include <keel/router/router.hpp>
#include <keel/testing/test_server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> g_loop_allocations{0};

void* counted_alloc(std::size_t n) {
    if (keel::Loop::current() != nullptr) {
        g_loop_allocations.fetch_add(1, std::memory_order_relaxed);
    }
    void* p = std::malloc(n ? n : 1);
    if (!p) {
        throw std::bad_alloc();
    }
    return p;
}
}  // namespace

void* operator new(std::size_t n) {
    return counted_alloc(n);
}
void* operator new[](std::size_t n) {
    return counted_alloc(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

using keel::testing::RawClient;
using keel::testing::TestServer;

namespace {

keel::http::Handler hello_handler() {
    return [](keel::http::Request& req) -> keel::http::Response {
        if (req.path() == "/plaintext") {
            return keel::http::Response::text("Hello, World!");
        }
        keel::http::Response res(200);
        res.content_type("application/json");
        res.body_buffer().append("{\"message\":");
        keel::json::write_string(res.body_buffer(), "Hello, World!");
        res.body_buffer().push_back('}');
        return res;
    };
}

keel::http::Handler coroutine_handler() {
    return [](keel::http::Request& req) -> keel::Task<keel::http::Response> {
        auto r = keel::http::Response::text("from a coroutine");
        r.header("X-Path", req.path());
        co_return r;
    };
}

// Sends `count` requests for `path` on one keep-alive connection, `depth` per write.
void serve(RawClient& c, const std::string& path, int count, int depth = 1) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
    std::string batch;
    for (int i = 0; i < depth; ++i) {
        batch += req;
    }
    for (int i = 0; i < count; i += depth) {
        ASSERT_TRUE(c.send(batch));
        for (int k = 0; k < depth; ++k) {
            auto r = c.read_response();
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 200);
        }
    }
}

std::uint64_t allocations_for(keel::http::Handler handler, const std::string& path, int depth) {
    TestServer srv(std::move(handler));
    RawClient c(srv.port());
    serve(c, path, 2000, depth);  // warm: buffers, recyclers and frame pools fill up
    std::uint64_t before = g_loop_allocations.load();
    serve(c, path, 1000, depth);
    return g_loop_allocations.load() - before;
}

}  // namespace

TEST(HotPathAllocations, CounterSeesLoopThreadAllocations) {
    // Guard against a vacuous pass: a handler that allocates must be counted.
    keel::http::Handler allocating = [](keel::http::Request&) {
        auto* leak_free = new std::string(100, 'x');
        auto r = keel::http::Response::text(*leak_free);
        delete leak_free;
        return r;
    };
    EXPECT_GE(allocations_for(allocating, "/plaintext", 1), 1000u);
}

TEST(HotPathAllocations, PlaintextMakesNone) {
    EXPECT_EQ(allocations_for(hello_handler(), "/plaintext", 1), 0u);
}

TEST(HotPathAllocations, JsonMakesNone) {
    EXPECT_EQ(allocations_for(hello_handler(), "/json", 1), 0u);
}

TEST(HotPathAllocations, PipelinedPlaintextMakesNone) {
    EXPECT_EQ(allocations_for(hello_handler(), "/plaintext", 16), 0u);
}

TEST(HotPathAllocations, RoutedRequestWithParameterMakesNone) {
    keel::router::Router r;
    r.get("/plaintext", hello_handler());
    r.get("/users/{id}", [](keel::http::Request& req) {
        keel::http::Response res(200);
        res.content_type("application/json");
        res.body_buffer().append("{\"id\":\"").append(req.param("id")).append("\"}");
        return res;
    });
    EXPECT_EQ(allocations_for(r.handler(), "/users/12345", 1), 0u);
}

TEST(HotPathAllocations, CoroutineHandlerMakesNone) {
    EXPECT_EQ(allocations_for(coroutine_handler(), "/anything", 1), 0u);
}

TEST(HotPathAllocations, DateRefreshMakesNone) {
    // The Date line is rewritten once a second on the loop: serve until it has changed twice.
    TestServer srv(hello_handler());
    RawClient c(srv.port());
    serve(c, "/plaintext", 2000);
    std::uint64_t before = g_loop_allocations.load();
    int changes = 0;
    for (std::string last; changes < 2;) {
        ASSERT_TRUE(c.send("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        auto date = r->header("Date");
        ASSERT_TRUE(date);
        if (!last.empty() && *date != last) {
            ++changes;
        }
        last = *date;
    }
    EXPECT_EQ(g_loop_allocations.load() - before, 0u);
}
