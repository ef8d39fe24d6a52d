// linkd's repository contract, run against real SQLite and real PostgreSQL.
#include "databases.hpp"

#include "repository/repository.hpp"

#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>
#include <keel/core/worker_pool.hpp>
#include <support/latch.hpp>

namespace {

using namespace linkd;
using linkd::test::Backend;

class RepositoryTest : public ::testing::TestWithParam<Backend> {
  protected:
    template <class Make>
    auto run(Make make) {
        return loop_.block_on(std::move(make));
    }
    void SetUp() override {
        auto r = open_repository({.url = db_.url(), .pool = {.max_open = 4}});
        ASSERT_TRUE(r) << r.error().message();
        repo_ = std::move(*r);
        auto m = run([&] { return repo_->migrate(); });
        ASSERT_TRUE(m) << m.error().message();
        owner_ = insert_key("owner").id;
        other_ = insert_key("other").id;
    }
    void TearDown() override {
        if (repo_) {
            repo_->close();
        }
    }
    ApiKey insert_key(const std::string& name, bool admin = false) {
        ApiKey k;
        k.name = name;
        k.prefix = name + "pfx";
        k.hash = "hash-" + name;
        k.admin = admin;
        k.created_at = 1000;
        auto r = run([&] { return repo_->insert_key(k); });
        EXPECT_TRUE(r) << r.error().message();
        return r ? *r : ApiKey{};
    }
    Link insert(const std::string& slug, std::int64_t owner, std::optional<std::int64_t> expires = std::nullopt) {
        Link l;
        l.slug = slug;
        l.url = "https://example.com/" + slug;
        l.owner = owner;
        l.created_at = l.updated_at = 2000;
        l.expires_at = expires;
        auto r = run([&] { return repo_->insert_link(l); });
        EXPECT_TRUE(r) << r.error().message();
        return r ? *r : Link{};
    }

    keel::WorkerPool workers_{{.threads = 2, .queue_capacity = 256}};
    keel::LoopThread loop_{&workers_};
    linkd::test::TestDatabase db_{GetParam()};
    std::unique_ptr<Repository> repo_;
    std::int64_t owner_ = 0;
    std::int64_t other_ = 0;
};

TEST_P(RepositoryTest, MigrationsAreIdempotent) {
    auto again = run([&] { return repo_->migrate(); });
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, 0);
    EXPECT_TRUE(run([&] { return repo_->ping(); }));
    EXPECT_FALSE(repo_->pool_stats().empty());
}

TEST_P(RepositoryTest, InsertsFindsAndRefusesDuplicateSlugs) {
    Link a = insert("alpha", owner_, 9999);
    EXPECT_GT(a.id, 0);
    auto found = run([&] { return repo_->find_link("alpha"); });
    ASSERT_TRUE(found);
    ASSERT_TRUE(found->has_value());
    const Link& f = **found;
    EXPECT_EQ(f.id, a.id);
    EXPECT_EQ(f.url, "https://example.com/alpha");
    EXPECT_EQ(f.owner, owner_);
    EXPECT_FALSE(f.permanent);
    EXPECT_EQ(f.created_at, 2000);
    EXPECT_EQ(f.expires_at, 9999);
    EXPECT_EQ(f.clicks, 0);
    auto none = run([&] { return repo_->find_link("nope"); });
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    Link dup;
    dup.slug = "alpha";
    dup.url = "https://x.example";
    dup.owner = other_;
    auto conflict = run([&] { return repo_->insert_link(dup); });
    ASSERT_FALSE(conflict);
    EXPECT_EQ(conflict.error().code(), keel::Errc::conflict);
}

TEST_P(RepositoryTest, ConcurrentInsertsAllLandAndOnlyTheDuplicateConflicts) {
    // On PostgreSQL these share transactions (group commit); a taken slug fails only its own.
    insert("taken", owner_);
    constexpr int kN = 40;
    struct Outcome {
        int ok = 0, conflicts = 0;
        keel::test::Latch done{kN};
    } o;
    run([&]() -> keel::Task<void> {
        for (int i = 0; i < kN; ++i) {
            Link l;
            l.slug = i == 17 ? "taken" : "many" + std::to_string(i);
            l.url = "https://example.com/";
            l.owner = owner_;
            keel::spawn(
                [](Repository& repo, Link l, Outcome& o) -> keel::Task<void> {
                    auto r = co_await repo.insert_link(std::move(l));
                    o.ok += r.has_value() && r->id > 0;
                    o.conflicts += !r.has_value() && r.error().code() == keel::Errc::conflict;
                    o.done.count_down();
                }(*repo_, std::move(l), o),
                [](std::exception_ptr) {});
        }
        co_await o.done.wait();
    });
    EXPECT_EQ(o.ok, kN - 1);
    EXPECT_EQ(o.conflicts, 1);
    auto listed = run([&] { return repo_->list_links(owner_, std::nullopt, 100); });
    EXPECT_EQ(listed->size(), static_cast<std::size_t>(kN));  // 39 new + "taken"
}

TEST_P(RepositoryTest, UpdatesOnlyWhatChangesAndOnlyForTheOwner) {
    insert("beta", owner_, 5000);
    auto url_only =
        run([&] { return repo_->update_link(owner_, "beta", LinkChange{.url = "https://new.example"}, 3000); });
    ASSERT_TRUE(url_only);
    ASSERT_TRUE(url_only->has_value());
    EXPECT_EQ((*url_only)->url, "https://new.example");
    EXPECT_EQ((*url_only)->expires_at, 5000);  // untouched
    EXPECT_EQ((*url_only)->updated_at, 3000);
    auto clear = run([&] {
        return repo_->update_link(owner_, "beta",
                                  LinkChange{.expires_at = std::optional<std::int64_t>{}, .permanent = true}, 3001);
    });
    ASSERT_TRUE(clear);
    EXPECT_EQ((*clear)->expires_at, std::nullopt);
    EXPECT_TRUE((*clear)->permanent);
    EXPECT_EQ((*clear)->url, "https://new.example");
    auto not_mine = run([&] { return repo_->update_link(other_, "beta", LinkChange{.url = "https://x.y"}, 1); });
    ASSERT_TRUE(not_mine);
    EXPECT_FALSE(not_mine->has_value());
}

TEST_P(RepositoryTest, DeletesWithTheClickHistory) {
    Link g = insert("gamma", owner_);
    ASSERT_TRUE(run([&] { return repo_->add_clicks({{g.id, 100, 3}}); }));
    auto not_mine = run([&] { return repo_->delete_link(other_, "gamma"); });
    EXPECT_FALSE(not_mine->has_value());
    auto deleted = run([&] { return repo_->delete_link(owner_, "gamma"); });
    ASSERT_TRUE(deleted);
    ASSERT_TRUE(deleted->has_value());
    EXPECT_EQ((*deleted)->slug, "gamma");
    EXPECT_FALSE(run([&] { return repo_->find_link("gamma"); })->has_value());
    EXPECT_TRUE(run([&] { return repo_->clicks_by_day(g.id, 0); })->empty());
    // Clicks for a link deleted meanwhile are dropped without failing the batch.
    Link h = insert("delta", owner_);
    ASSERT_TRUE(run([&] { return repo_->add_clicks({{g.id, 100, 1}, {h.id, 100, 2}}); }));
    EXPECT_EQ((*run([&] { return repo_->find_link("delta"); }))->clicks, 2);
}

TEST_P(RepositoryTest, ListsNewestFirstPerOwner) {
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 7; ++i) {
        ids.push_back(insert("own" + std::to_string(i), owner_).id);
        insert("oth" + std::to_string(i), other_);
    }
    auto first = run([&] { return repo_->list_links(owner_, std::nullopt, 3); });
    ASSERT_TRUE(first);
    ASSERT_EQ(first->size(), 3u);
    EXPECT_EQ((*first)[0].slug, "own6");
    EXPECT_EQ((*first)[2].slug, "own4");
    auto next = run([&] { return repo_->list_links(owner_, (*first)[2].id, 10); });
    ASSERT_EQ(next->size(), 4u);
    EXPECT_EQ((*next)[0].slug, "own3");
    EXPECT_EQ((*next)[3].slug, "own0");
}

TEST_P(RepositoryTest, ClicksAddUpInTotalAndPerDay) {
    Link l = insert("clicky", owner_);
    ASSERT_TRUE(run([&] { return repo_->add_clicks({{l.id, 20000, 5}, {l.id, 20001, 2}}); }));
    ASSERT_TRUE(run([&] { return repo_->add_clicks({{l.id, 20001, 3}}); }));
    EXPECT_EQ((*run([&] { return repo_->find_link("clicky"); }))->clicks, 10);
    auto days = run([&] { return repo_->clicks_by_day(l.id, 20001); });
    ASSERT_TRUE(days);
    ASSERT_EQ(days->size(), 1u);
    EXPECT_EQ((*days)[0].day, 20001);
    EXPECT_EQ((*days)[0].clicks, 5);
    auto all = run([&] { return repo_->clicks_by_day(l.id, 0); });
    EXPECT_EQ(all->size(), 2u);
}

TEST_P(RepositoryTest, KeysAreFoundByPrefixAndRevoked) {
    EXPECT_FALSE(*run([&] { return repo_->has_admin_key(); }));
    ApiKey admin = insert_key("root", true);
    EXPECT_TRUE(*run([&] { return repo_->has_admin_key(); }));
    auto found = run([&] { return repo_->find_key_by_prefix("rootpfx"); });
    ASSERT_TRUE(found);
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->id, admin.id);
    EXPECT_EQ((*found)->hash, "hash-root");
    EXPECT_TRUE((*found)->admin);
    EXPECT_FALSE((*found)->revoked_at);
    EXPECT_TRUE(*run([&] { return repo_->revoke_key(admin.id, 7777); }));
    EXPECT_FALSE(*run([&] { return repo_->revoke_key(admin.id, 7778); }));  // already revoked
    EXPECT_EQ((*run([&] { return repo_->find_key_by_prefix("rootpfx"); }))->revoked_at, 7777);
    EXPECT_FALSE(*run([&] { return repo_->has_admin_key(); }));
    ApiKey dup;
    dup.name = "dup";
    dup.prefix = "rootpfx";
    dup.hash = "h";
    auto conflict = run([&] { return repo_->insert_key(dup); });
    ASSERT_FALSE(conflict);
    EXPECT_EQ(conflict.error().code(), keel::Errc::conflict);
}

INSTANTIATE_TEST_SUITE_P(Backends, RepositoryTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         linkd::test::backend_name);

}  // namespace
