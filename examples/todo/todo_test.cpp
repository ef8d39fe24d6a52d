// The todo API in-process (keel::testing::call), on a real SQLite file: every endpoint, and
// every way a request can be refused.
#include "todo.hpp"

#include <keel/core/loop_thread.hpp>
#include <keel/testing/recorder.hpp>

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>

namespace {

using keel::testing::call;
using keel::testing::TestRequest;

class TodoApi : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/todo-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        db_ = std::make_unique<keel::sqlite::Database>(
            keel::sqlite::DatabaseOptions{.file = {.path = dir_ + "/todo.db"}});
        keel::LoopThread loop(&workers_);
        auto applied = loop.block_on([&] { return db_->migrate(todo::migrations()); });
        ASSERT_TRUE(applied) << applied.error().message();
        todo::add_routes(router_, *db_);
        handler_ = router_.handler();
    }
    void TearDown() override {
        db_->close();
        std::filesystem::remove_all(dir_);
    }
    keel::testing::RecordedResponse send(std::string method, std::string target, std::string body = {}) {
        TestRequest req{std::move(method), std::move(target)};
        if (!body.empty()) {
            req.headers.emplace_back("Content-Type", "application/json");
            req.body = std::move(body);
        }
        return call(handler_, req, &workers_);
    }

    std::string dir_;
    keel::WorkerPool workers_{{.threads = 2, .queue_capacity = 64}};
    std::unique_ptr<keel::sqlite::Database> db_;
    keel::router::Router router_;
    keel::http::Handler handler_;
};

TEST_F(TodoApi, CreateReadUpdateListDelete) {
    auto made = send("POST", "/v1/todos", R"({"title":"write the tutorial"})");
    ASSERT_EQ(made.status, 201) << made.body;
    EXPECT_EQ(made.header("Location"), "/v1/todos/1");
    EXPECT_NE(made.body.find(R"("id":1,"title":"write the tutorial","done":false,"created_at":)"), std::string::npos)
        << made.body;
    ASSERT_EQ(send("POST", "/v1/todos", R"({"title":"ship it","done":true})").status, 201);

    auto one = send("GET", "/v1/todos/1");
    EXPECT_EQ(one.status, 200);
    EXPECT_NE(one.body.find(R"("title":"write the tutorial")"), std::string::npos);

    auto changed = send("PATCH", "/v1/todos/1", R"({"done":true})");
    EXPECT_EQ(changed.status, 200) << changed.body;
    EXPECT_NE(changed.body.find(R"("title":"write the tutorial","done":true)"), std::string::npos) << changed.body;

    auto done = send("GET", "/v1/todos?done=true");
    EXPECT_EQ(done.status, 200);
    EXPECT_NE(done.body.find(R"("id":1)"), std::string::npos);
    EXPECT_NE(done.body.find(R"("id":2)"), std::string::npos);
    EXPECT_EQ(send("GET", "/v1/todos?done=false").body, "[]");
    auto limited = send("GET", "/v1/todos?limit=1");
    EXPECT_EQ(limited.body.find(R"("id":2)"), std::string::npos) << limited.body;

    EXPECT_EQ(send("DELETE", "/v1/todos/1").status, 204);
    EXPECT_EQ(send("GET", "/v1/todos/1").status, 404);
    EXPECT_EQ(send("DELETE", "/v1/todos/1").status, 404);
}

TEST_F(TodoApi, EveryBadFieldIsNamedInOne400) {
    auto bad = send("POST", "/v1/todos", R"({"title":"","done":"yes","extra":1})");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.header("Content-Type"), "application/problem+json");
    for (const char* pointer : {R"("pointer":"/done")", R"("pointer":"/extra")", R"("pointer":"/title")"}) {
        EXPECT_NE(bad.body.find(pointer), std::string::npos) << pointer << " in " << bad.body;
    }
    auto empty_patch = send("PATCH", "/v1/todos/1", "{}");
    EXPECT_EQ(empty_patch.status, 400);
    EXPECT_NE(empty_patch.body.find("must change at least one of title, done"), std::string::npos);
    EXPECT_EQ(send("GET", "/v1/todos?limit=0").status, 400);
    EXPECT_EQ(send("GET", "/v1/todos?done=maybe").status, 400);
    EXPECT_EQ(send("GET", "/v1/todos?limit=5&limit=7").status, 400);
    EXPECT_EQ(send("GET", "/v1/todos/abc").status, 404);
    auto not_json = call(
        handler_, TestRequest{"POST", "/v1/todos"}.with_header("Content-Type", "text/plain").with_body("x"), &workers_);
    EXPECT_EQ(not_json.status, 415);
}

}  // namespace
