// linkd's service layer against an in-memory repository: every business rule, the redirect
// cache, click counting and the key rules. (Repository and HTTP are tested elsewhere.)
#include "fake_repository.hpp"

#include "cache/redis_link_cache.hpp"
#include "service/clock.hpp"
#include "service/crypto.hpp"
#include "service/key_service.hpp"
#include "service/link_service.hpp"

#include <keel/core/loop_thread.hpp>
#include <keel/core/sleep.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <support/eventually.hpp>
#include <utility>

namespace {

using namespace linkd;

template <class T>
T run(keel::Task<T> task) {
    // The fake repository never suspends, so the task finishes inside spawn.
    std::optional<T> out;
    keel::spawn(std::move(task), [&](std::optional<T> v, std::exception_ptr e) {
        if (e) {
            std::rethrow_exception(e);
        }
        out = std::move(v);
    });
    EXPECT_TRUE(out.has_value());
    return std::move(*out);
}

std::string reasons(const ServiceError& e) {
    std::string s;
    for (auto& f : e.fields) {
        s += f.pointer + ": " + f.reason + "\n";
    }
    return s;
}

class LinkServiceTest : public ::testing::Test {
  protected:
    test::FakeRepository repo;
    ClickCounter clicks;
    std::int64_t now = 1'800'000'000;  // 2027-01-15T08:00:00Z
    LinkService svc{repo, clicks, {.slug_length = 7, .now = [this] { return now; }}};
    Principal alice{1, false, "alice"};
    Principal bob{2, false, "bob"};

    Link create(const std::string& slug, const std::string& url = "https://example.com/") {
        auto r = run(svc.create(alice, {.url = url, .slug = slug}));
        EXPECT_TRUE(r) << (r ? "" : r.error().detail + reasons(r.error()));
        return r ? *r : Link{};
    }
};

TEST_F(LinkServiceTest, UrlRules) {
    EXPECT_EQ(LinkService::url_problem("https://example.com"), std::nullopt);
    EXPECT_EQ(LinkService::url_problem("HTTP://example.com:8080/a?b#c"), std::nullopt);
    EXPECT_EQ(LinkService::url_problem("http://[::1]:80/x"), std::nullopt);
    EXPECT_EQ(LinkService::url_problem(""), "must not be empty");
    EXPECT_EQ(LinkService::url_problem("ftp://example.com"), "must be an absolute http or https URL");
    EXPECT_EQ(LinkService::url_problem("/relative"), "must be an absolute http or https URL");
    EXPECT_EQ(LinkService::url_problem("https://user:pw@example.com/"),
              "must not contain credentials (user:password@)");
    EXPECT_EQ(LinkService::url_problem("https://user@example.com/"), "must not contain credentials (user:password@)");
    EXPECT_EQ(LinkService::url_problem("https:///path"), "must have a host");
    EXPECT_EQ(LinkService::url_problem("https://example.com:99999/"), "must have a valid port (1 to 65535)");
    // Hostile-test findings (issue 15): port 0 and characters no host may hold.
    EXPECT_EQ(LinkService::url_problem("http://e.com:0/"), "must have a valid port (1 to 65535)");
    EXPECT_EQ(LinkService::url_problem("http://e<x>.com/"), "must have a valid host");
    EXPECT_EQ(LinkService::url_problem("http://e\"x.com/"), "must have a valid host");
    EXPECT_EQ(LinkService::url_problem("http://[::g]/"), "must have a valid host");
    EXPECT_EQ(LinkService::url_problem("https://example.com:/"), "must have a valid port (1 to 65535)");
    EXPECT_NE(LinkService::url_problem("https://exa mple.com/"), std::nullopt);
    EXPECT_NE(LinkService::url_problem("https://example.com/\x01"), std::nullopt);
    EXPECT_NE(LinkService::url_problem("https://example.com/é"), std::nullopt);
    std::string longest = "https://example.com/" + std::string(2048 - 20, 'a');
    EXPECT_EQ(LinkService::url_problem(longest), std::nullopt);
    EXPECT_EQ(LinkService::url_problem(longest + "a"), "must be at most 2048 bytes long");
}

TEST_F(LinkServiceTest, SlugRules) {
    EXPECT_EQ(LinkService::slug_problem("abc"), std::nullopt);
    EXPECT_EQ(LinkService::slug_problem("A-b_9"), std::nullopt);
    EXPECT_EQ(LinkService::slug_problem(std::string(64, 'x')), std::nullopt);
    EXPECT_NE(LinkService::slug_problem("ab"), std::nullopt);
    EXPECT_NE(LinkService::slug_problem(std::string(65, 'x')), std::nullopt);
    EXPECT_NE(LinkService::slug_problem("a.b.c"), std::nullopt);
    EXPECT_NE(LinkService::slug_problem("a/bc"), std::nullopt);
    EXPECT_EQ(LinkService::slug_problem("healthz"), "is reserved");
    EXPECT_EQ(LinkService::slug_problem("ReadyZ"), "is reserved");
}

TEST_F(LinkServiceTest, CreateListsEveryInvalidField) {
    auto r = run(svc.create(alice, {.url = "ftp://x", .slug = "healthz", .expires_at = "tomorrow"}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().fault, Fault::invalid);
    EXPECT_EQ(reasons(r.error()),
              "/url: must be an absolute http or https URL\n"
              "/slug: is reserved\n"
              "/expires_at: must be an RFC 3339 date-time (2026-12-31T23:59:59Z)\n");
    auto past = run(svc.create(alice, {.url = "https://a.example", .expires_at = format_time(now - 1)}));
    ASSERT_FALSE(past);
    EXPECT_EQ(reasons(past.error()), "/expires_at: must be in the future\n");
    EXPECT_TRUE(repo.links.empty());
}

TEST_F(LinkServiceTest, GeneratedSlugsAreShortAndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto r = run(svc.create(alice, {.url = "https://example.com/" + std::to_string(i)}));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->slug.size(), 7u);
        EXPECT_EQ(LinkService::slug_problem(r->slug), std::nullopt);
        seen.insert(r->slug);
    }
    EXPECT_EQ(seen.size(), 200u);
}

TEST_F(LinkServiceTest, TakenSlugIsAConflict) {
    create("taken");
    auto again = run(svc.create(bob, {.url = "https://other.example", .slug = "taken"}));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().fault, Fault::conflict);
}

TEST_F(LinkServiceTest, AnotherKeysLinkDoesNotExist) {
    create("mine");
    auto theirs = run(svc.get(bob, "mine"));
    ASSERT_FALSE(theirs);
    EXPECT_EQ(theirs.error().fault, Fault::not_found);
    EXPECT_EQ(run(svc.update(bob, "mine", {.url = "https://x.example"})).error().fault, Fault::not_found);
    EXPECT_EQ(run(svc.remove(bob, "mine")).error().fault, Fault::not_found);
    EXPECT_EQ(run(svc.stats(bob, "mine")).error().fault, Fault::not_found);
    EXPECT_TRUE(run(svc.get(alice, "mine")));
}

TEST_F(LinkServiceTest, FollowUsesTheCacheAndCountsClicks) {
    Link l = create("cached", "https://target.example/");
    for (int i = 0; i < 5; ++i) {
        auto r = run(svc.follow("cached"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->link->url, "https://target.example/");
    }
    EXPECT_EQ(repo.find_link_calls, 1);  // one miss, then the cache
    std::string seen;
    EXPECT_TRUE(svc.follow_cached("cached", [&](const ServiceResult<Redirect>& r) { seen = r->link->url; }));
    EXPECT_EQ(seen, "https://target.example/");  // the synchronous path counts too
    EXPECT_EQ(clicks.pending(l.id), 6);
    EXPECT_EQ(run(svc.get(alice, "cached"))->clicks, 6);  // pending clicks are visible
}

TEST_F(LinkServiceTest, UnknownSlugsAreCachedNegatively) {
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(run(svc.follow("ghost")).error().fault, Fault::not_found);
    }
    EXPECT_EQ(repo.find_link_calls, 1);
    create("ghost");  // creating it drops the negative entry
    EXPECT_TRUE(run(svc.follow("ghost")));
    EXPECT_EQ(run(svc.follow("no")).error().fault, Fault::not_found);  // invalid: no lookup at all
    EXPECT_EQ(repo.find_link_calls, 2);
}

TEST_F(LinkServiceTest, ExpiredLinksAreGone) {
    auto r =
        run(svc.create(alice, {.url = "https://soon.example", .slug = "soon", .expires_at = format_time(now + 60)}));
    ASSERT_TRUE(r);
    EXPECT_TRUE(run(svc.follow("soon")));
    now += 61;
    auto gone = run(svc.follow("soon"));
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().fault, Fault::gone);
}

TEST_F(LinkServiceTest, UpdateAndDeleteInvalidateTheCache) {
    create("moving", "https://old.example/");
    EXPECT_EQ(run(svc.follow("moving"))->link->url, "https://old.example/");
    auto up = run(svc.update(alice, "moving", {.url = "https://new.example/"}));
    ASSERT_TRUE(up);
    EXPECT_EQ(run(svc.follow("moving"))->link->url, "https://new.example/");
    ASSERT_TRUE(run(svc.remove(alice, "moving")));
    EXPECT_EQ(run(svc.follow("moving")).error().fault, Fault::not_found);
}

TEST_F(LinkServiceTest, UpdateRules) {
    create("patchme");
    auto nothing = run(svc.update(alice, "patchme", {}));
    ASSERT_FALSE(nothing);
    EXPECT_EQ(reasons(nothing.error()), ": must change at least one of url, expires_at, permanent\n");
    UpdateLinkInput set;
    set.expires_at.emplace() = format_time(now + 3600);
    auto with_expiry = run(svc.update(alice, "patchme", std::move(set)));
    ASSERT_TRUE(with_expiry);
    EXPECT_EQ(with_expiry->expires_at, now + 3600);
    UpdateLinkInput clear;
    clear.expires_at.reset();  // JSON null
    auto cleared = run(svc.update(alice, "patchme", std::move(clear)));
    ASSERT_TRUE(cleared);
    EXPECT_EQ(cleared->expires_at, std::nullopt);
    auto perm = run(svc.update(alice, "patchme", {.permanent = true}));
    EXPECT_TRUE(perm->permanent);
    auto bad = run(svc.update(alice, "patchme", {.url = "mailto:x@y"}));
    EXPECT_EQ(reasons(bad.error()), "/url: must be an absolute http or https URL\n");
    // {"url": null} and {"permanent": null} are not "no change" but invalid values (issue 15).
    auto null_url = run(svc.update(alice, "patchme", {.url = keel::json::Nullable<std::string>::null()}));
    ASSERT_FALSE(null_url);
    EXPECT_EQ(reasons(null_url.error()), "/url: must be an absolute http or https URL, not null\n");
    auto null_perm = run(svc.update(alice, "patchme", {.permanent = keel::json::Nullable<bool>::null()}));
    ASSERT_FALSE(null_perm);
    EXPECT_EQ(reasons(null_perm.error()), "/permanent: must be true or false, not null\n");
}

TEST_F(LinkServiceTest, ListPagesNewestFirstWithOpaqueCursors) {
    for (int i = 0; i < 25; ++i) {
        create("link" + std::to_string(i));
    }
    ASSERT_TRUE(run(svc.create(bob, {.url = "https://bob.example", .slug = "bobs"})));
    std::vector<std::string> all;
    std::optional<std::string> cursor;
    int pages = 0;
    do {
        auto page = run(svc.list(alice, 10, cursor));
        ASSERT_TRUE(page);
        for (auto& l : page->items) {
            all.push_back(l.slug);
        }
        cursor = page->next_cursor;
        ++pages;
    } while (cursor);
    EXPECT_EQ(pages, 3);
    ASSERT_EQ(all.size(), 25u);
    EXPECT_EQ(all.front(), "link24");
    EXPECT_EQ(all.back(), "link0");
    EXPECT_EQ(reasons(run(svc.list(alice, 0, std::nullopt)).error()), "/limit: must be an integer from 1 to 100\n");
    EXPECT_EQ(reasons(run(svc.list(alice, 101, std::nullopt)).error()), "/limit: must be an integer from 1 to 100\n");
    EXPECT_EQ(reasons(run(svc.list(alice, 10, "bogus")).error()), "/cursor: is not a cursor this API returned\n");
    EXPECT_EQ(decode_cursor(encode_cursor(123456789)), 123456789);
}

TEST_F(LinkServiceTest, FlushWritesClicksAndKeepsThemWhenTheDatabaseIsDown) {
    Link l = create("counted");
    for (int i = 0; i < 7; ++i) {
        ASSERT_TRUE(run(svc.follow("counted")));
    }
    repo.down = true;
    auto failed = run(svc.flush_clicks());
    EXPECT_FALSE(failed);
    EXPECT_EQ(clicks.pending(l.id), 7);  // nothing lost
    repo.down = false;
    auto written = run(svc.flush_clicks());
    ASSERT_TRUE(written);
    EXPECT_EQ(*written, 7);
    EXPECT_EQ(clicks.pending(l.id), 0);
    EXPECT_EQ(repo.links[l.id].clicks, 7);
    EXPECT_EQ(run(svc.get(alice, "counted"))->clicks, 7);
}

TEST_F(LinkServiceTest, StatsCoverThirtyDaysWithPendingClicksToday) {
    Link l = create("stats");
    std::int64_t today = day_of(now);
    repo.daily[{l.id, today - 40}] = 100;  // too old to show
    repo.daily[{l.id, today - 29}] = 3;
    repo.daily[{l.id, today - 1}] = 4;
    repo.links[l.id].clicks = 107;
    ASSERT_TRUE(run(svc.follow("stats")));
    auto s = run(svc.stats(alice, "stats"));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->total_clicks, 108);
    ASSERT_EQ(s->days.size(), 30u);
    EXPECT_EQ(s->days.front().day, today - 29);
    EXPECT_EQ(s->days.front().clicks, 3);
    EXPECT_EQ(s->days[28].clicks, 4);
    EXPECT_EQ(s->days.back().day, today);
    EXPECT_EQ(s->days.back().clicks, 1);
    std::int64_t sum = 0;
    for (auto& d : s->days) {
        sum += d.clicks;
    }
    EXPECT_EQ(sum, 8);
}

TEST_F(LinkServiceTest, DatabaseDownIsUnavailable) {
    repo.down = true;
    EXPECT_EQ(run(svc.create(alice, {.url = "https://a.example", .slug = "abc"})).error().fault, Fault::unavailable);
    EXPECT_EQ(run(svc.follow("abcd")).error().fault, Fault::unavailable);
}

class KeyServiceTest : public ::testing::Test {
  protected:
    test::FakeRepository repo;
    KeyService keys{repo, {.now = [] { return std::int64_t{1'800'000'000}; }}};
    Principal admin{0, true, ""};
};

TEST_F(KeyServiceTest, CreatedKeysAuthenticateAndAreStoredHashed) {
    auto k = run(keys.create(admin, "ci", false));
    ASSERT_TRUE(k);
    EXPECT_TRUE(KeyService::well_formed(k->secret));
    EXPECT_EQ(k->secret.substr(0, 3), "lk_");
    const ApiKey& stored = repo.keys.at(k->key.id);
    EXPECT_EQ(stored.hash, sha256_hex(k->secret));
    EXPECT_EQ(k->secret.find(stored.hash), std::string::npos);
    EXPECT_EQ(stored.prefix, k->secret.substr(3, 8));
    auto who = run(keys.authenticate("Bearer " + k->secret));
    ASSERT_TRUE(who);
    EXPECT_EQ(who->key_id, k->key.id);
    EXPECT_FALSE(who->admin);
    EXPECT_TRUE(run(keys.authenticate("bearer " + k->secret)));  // the scheme is case-insensitive
}

TEST_F(KeyServiceTest, BadCredentialsAreUnauthenticated) {
    auto k = run(keys.create(admin, "ci", false));
    std::string forged = k->secret;
    forged.back() = forged.back() == 'a' ? 'b' : 'a';  // right prefix, wrong secret
    for (std::optional<std::string> h :
         {std::optional<std::string>{}, std::optional<std::string>("Basic abc"), std::optional<std::string>("Bearer "),
          std::optional<std::string>("Bearer short"), std::optional<std::string>("Bearer " + forged)}) {
        auto r = run(keys.authenticate(h ? std::optional<std::string_view>(*h) : std::nullopt));
        ASSERT_FALSE(r) << h.value_or("(none)");
        EXPECT_EQ(r.error().fault, Fault::unauthenticated);
    }
}

TEST_F(KeyServiceTest, RevokedKeysStopWorkingAtOnce) {
    auto k = run(keys.create(admin, "temp", false));
    ASSERT_TRUE(run(keys.authenticate("Bearer " + k->secret)));  // now cached
    ASSERT_TRUE(run(keys.revoke(admin, k->key.id)));
    EXPECT_EQ(run(keys.authenticate("Bearer " + k->secret)).error().fault, Fault::unauthenticated);
    EXPECT_EQ(run(keys.revoke(admin, k->key.id)).error().fault, Fault::not_found);
}

TEST_F(KeyServiceTest, OnlyAdminsManageKeys) {
    Principal user{5, false, "x"};
    EXPECT_EQ(run(keys.create(user, "x", false)).error().fault, Fault::forbidden);
    EXPECT_EQ(run(keys.revoke(user, 1)).error().fault, Fault::forbidden);
    auto unnamed = run(keys.create(admin, "", false));
    EXPECT_EQ(unnamed.error().fault, Fault::invalid);
    EXPECT_EQ(reasons(unnamed.error()), "/name: must be 1 to 100 bytes long\n");
    for (std::string name :
         {std::string("a\r\nX-Injected: 1"), std::string("nul\0byte", 8), std::string("tab\there")}) {
        auto bad = run(keys.create(admin, name, false));
        ASSERT_FALSE(bad) << name;
        EXPECT_EQ(reasons(bad.error()), "/name: must not contain control characters (CR, LF, NUL, tab, ...)\n");
    }
}

TEST_F(KeyServiceTest, EnsureAdminCreatesOneOnceOrUsesTheConfiguredKey) {
    auto first = run(keys.ensure_admin(""));
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->has_value());
    EXPECT_TRUE((*first)->key.admin);
    auto second = run(keys.ensure_admin(""));
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->has_value());  // printed once only

    test::FakeRepository other;
    KeyService configured(other, {});
    std::string key = "lk_" + std::string(40, 'K');
    auto made = run(configured.ensure_admin(key));
    ASSERT_TRUE(made);
    EXPECT_FALSE(made->has_value());  // the operator knows it: not printed
    auto who = run(configured.authenticate("Bearer " + key));
    ASSERT_TRUE(who);
    EXPECT_TRUE(who->admin);
    EXPECT_TRUE(run(configured.ensure_admin(key)));  // idempotent
    EXPECT_EQ(run(configured.ensure_admin("not-a-key")).error().fault, Fault::invalid);
}

TEST(Clock, ParsesAndFormatsRfc3339) {
    EXPECT_EQ(parse_time("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_time("2026-11-29T12:00:00Z"), 1795953600);
    EXPECT_EQ(parse_time("2026-11-29T13:30:00+01:30"), 1795953600);
    EXPECT_EQ(parse_time("2026-11-29T12:00:00.123Z"), 1795953600);
    EXPECT_EQ(format_time(1795953600), "2026-11-29T12:00:00Z");
    EXPECT_EQ(format_day(day_of(1795953600)), "2026-11-29");
    for (const char* bad : {"2026-11-29", "2026-11-29T12:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
                            "2026-11-29T24:00:00Z", "2026-11-29T12:00:00+1:00", "2026-11-29T12:00:00Zjunk", ""}) {
        EXPECT_EQ(parse_time(bad), std::nullopt) << bad;
    }
    EXPECT_EQ(parse_time("2028-02-29T00:00:00Z").has_value(), true);
}

TEST_F(LinkServiceTest, ModifiedAtFollowsEditsFlushesAndPendingClicks) {
    Link l = create("dated");
    auto read = [&] { return *run(svc.get(alice, "dated")); };
    EXPECT_EQ(read().modified_at, now);  // created: updated_at
    now += 100;
    ASSERT_TRUE(run(svc.follow("dated")));
    EXPECT_EQ(read().modified_at, now);  // a pending click changes the representation now
    ASSERT_TRUE(run(svc.flush_clicks()));
    now += 50;
    EXPECT_EQ(read().modified_at, now - 50);  // flushed: the time of that flush
    ASSERT_TRUE(run(svc.update(alice, "dated", {.permanent = true})));
    EXPECT_EQ(read().modified_at, now);
    (void)l;
}

}  // namespace

namespace {

/// The shared level as a map, with RedisLinkCache's rules: a change leaves a unique mark, and a
/// put stores only over the entry its lookup saw (the Redis one is tested in process_test).
struct MapSharedCache final : SharedLinkCache {
    std::map<std::string, CachedAnswer> entries;
    std::map<std::string, std::string> marks;  // slug → the mark of its last change
    std::vector<std::string> invalidated;
    std::function<void()> before_put;  // another instance's change, between a lookup's read and its put
    bool down = false;
    int gets = 0, refused = 0;
    keel::Task<SharedLookup> get(std::string slug) override {
        ++gets;
        if (down) {
            co_return SharedLookup{};
        }
        if (auto it = entries.find(slug); it != entries.end()) {
            co_return SharedLookup{it->second, std::nullopt};
        }
        co_return SharedLookup{std::nullopt, marks[slug]};
    }
    keel::Task<void> put(std::string slug, CachedAnswer a, keel::Duration, std::string version) override {
        if (auto change = std::exchange(before_put, nullptr)) {
            change();
        }
        if (down || entries.count(slug) || marks[slug] != version) {
            ++refused;
            co_return;
        }
        entries[slug] = std::move(a);
    }
    keel::Task<void> invalidate(std::string slug) override {
        entries.erase(slug);
        marks[slug] = "!" + std::to_string(invalidated.size());
        invalidated.push_back(std::move(slug));
        co_return;
    }
};

TEST_F(LinkServiceTest, MemoryMissesAskTheSharedCacheBeforeTheDatabase) {
    MapSharedCache shared;
    svc.set_shared_cache(&shared);
    create("two-level", "https://a.example/");
    EXPECT_EQ(shared.invalidated, std::vector<std::string>{"two-level"});  // a negative entry may exist elsewhere
    EXPECT_EQ(run(svc.follow("two-level"))->link->url, "https://a.example/");
    EXPECT_EQ(repo.find_link_calls, 1);
    ASSERT_TRUE(shared.entries.count("two-level"));  // the database's answer is shared
    EXPECT_EQ(shared.entries["two-level"]->url, "https://a.example/");
    EXPECT_EQ(run(svc.follow("ghost-2")).error().fault, Fault::not_found);
    EXPECT_EQ(shared.entries.at("ghost-2"), nullptr);  // negative entries too

    svc.forget_all();  // another instance's view: memory empty, the shared level warm
    EXPECT_EQ(run(svc.follow("two-level"))->link->url, "https://a.example/");
    EXPECT_EQ(run(svc.follow("ghost-2")).error().fault, Fault::not_found);
    EXPECT_EQ(repo.find_link_calls, 2);  // neither went to the database again

    ASSERT_TRUE(run(svc.update(alice, "two-level", {.url = "https://b.example/"})));
    EXPECT_EQ(shared.invalidated.back(), "two-level");
    EXPECT_EQ(run(svc.follow("two-level"))->link->url, "https://b.example/");
    ASSERT_TRUE(run(svc.remove(alice, "two-level")));
    EXPECT_EQ(shared.invalidated.size(), 3u);
    EXPECT_EQ(run(svc.follow("two-level")).error().fault, Fault::not_found);
}

TEST_F(LinkServiceTest, WithTheSharedCacheDownTheDatabaseAnswers) {
    MapSharedCache shared;
    shared.down = true;
    svc.set_shared_cache(&shared);
    create("fallback", "https://db.example/");
    EXPECT_EQ(run(svc.follow("fallback"))->link->url, "https://db.example/");
    EXPECT_EQ(run(svc.follow("fallback"))->link->url, "https://db.example/");  // memory
    EXPECT_EQ(repo.find_link_calls, 1);
}

TEST_F(LinkServiceTest, AnAnswerReadBeforeAChangeIsNeitherSharedNorRemembered) {
    MapSharedCache shared;
    svc.set_shared_cache(&shared);
    create("racing", "https://old.example/");
    // After this lookup read the database, the link changes elsewhere: the change is stored
    // and announced (the shared entry marked, this instance told to forget) before the
    // lookup stores its answer.
    shared.before_put = [&] {
        for (auto& [id, l] : repo.links) {
            if (l.slug == "racing") {
                l.url = "https://new.example/";
            }
        }
        keel::spawn(shared.invalidate("racing"), [](std::exception_ptr) {});  // (never suspends)
        svc.forget("racing");
    };
    EXPECT_EQ(run(svc.follow("racing"))->link->url, "https://old.example/");  // read before the change
    EXPECT_EQ(shared.refused, 1);  // the lookup's answer is not shared over the change
    EXPECT_FALSE(shared.entries.count("racing"));
    EXPECT_EQ(run(svc.follow("racing"))->link->url, "https://new.example/");  // not remembered either
    EXPECT_EQ(repo.find_link_calls, 2);
    EXPECT_EQ(run(svc.follow("racing"))->link->url, "https://new.example/");  // now cached
    EXPECT_EQ(repo.find_link_calls, 2);
}

TEST(LinkServiceMemoryOff, EveryRedirectAsksTheSharedCache) {
    test::FakeRepository repo;
    ClickCounter clicks;
    LinkService svc{repo, clicks, {.memory_cache = false}};
    MapSharedCache shared;
    svc.set_shared_cache(&shared);
    ASSERT_TRUE(run(svc.create({1, false, "a"}, {.url = "https://x.example/", .slug = "nomem"})));
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(run(svc.follow("nomem"))->link->url, "https://x.example/");
    }
    EXPECT_FALSE(svc.follow_cached("nomem", [](const auto&) { ADD_FAILURE() << "memory is off"; }));
    EXPECT_EQ(shared.gets, 4);
    EXPECT_EQ(repo.find_link_calls, 1);
    EXPECT_EQ(svc.cache_stats().entries, 0u);
}

TEST(RedisLinkCacheValues, RoundTripAndRejectWhatWeDidNotWrite) {
    auto link = std::make_shared<const CachedLink>(CachedLink{42, "https://example.com/a?b=c", true, 1'900'000'000});
    auto back = RedisLinkCache::decode(RedisLinkCache::encode(link));
    ASSERT_TRUE(back && *back);
    EXPECT_EQ((*back)->id, 42);
    EXPECT_EQ((*back)->url, "https://example.com/a?b=c");
    EXPECT_TRUE((*back)->permanent);
    EXPECT_EQ((*back)->expires_at, 1'900'000'000);
    auto plain = RedisLinkCache::decode(
        RedisLinkCache::encode(std::make_shared<const CachedLink>(CachedLink{7, "http://x", false, {}})));
    ASSERT_TRUE(plain && *plain);
    EXPECT_FALSE((*plain)->expires_at.has_value());
    EXPECT_FALSE((*plain)->permanent);
    auto missing = RedisLinkCache::decode(RedisLinkCache::encode(nullptr));
    ASSERT_TRUE(missing.has_value());
    EXPECT_EQ(*missing, nullptr);
    for (std::string_view bad : {"", "x", "1 ", "1 7 0 - ", "1 seven 0 - http://x", "1 7 2 - http://x",
                                 "1 7 0 soon http://x", "2 7 0 - http://x"}) {
        EXPECT_FALSE(RedisLinkCache::decode(bad).has_value()) << bad;
    }
}

TEST(LinkServiceHerd, ConcurrentMissesForOneSlugReadTheDatabaseOnce) {
    // A repository whose lookups take time, so that misses pile up while the first one runs.
    struct SlowRepo final : public linkd::test::FakeRepository {
        keel::Task<keel::Result<std::optional<linkd::Link>>> find_link(std::string slug) override {
            co_await keel::sleep_for(std::chrono::milliseconds(30));
            co_return co_await FakeRepository::find_link(std::move(slug));
        }
    };
    SlowRepo repo;
    linkd::ClickCounter clicks;
    linkd::LinkService svc(repo, clicks, {});
    keel::LoopThread lt;
    auto made = lt.block_on([&] {
        return svc.create({1, false, ""}, {.url = "https://herd.example", .slug = "herd"});
    });
    ASSERT_TRUE(made);
    std::atomic<int> ok{0}, done{0};
    lt.loop().post([&] {
        for (int i = 0; i < 50; ++i) {
            keel::spawn(
                [](linkd::LinkService& svc, std::atomic<int>& ok, std::atomic<int>& done) -> keel::Task<void> {
                    auto r = co_await svc.follow("herd");
                    ok += static_cast<bool>(r);
                    ++done;
                }(svc, ok, done),
                [](std::exception_ptr) {});
        }
    });
    ASSERT_TRUE(keel::test::eventually([&] { return done == 50; }));
    EXPECT_EQ(ok, 50);
    EXPECT_EQ(repo.find_link_calls, 1);
    EXPECT_EQ(clicks.pending(made->id), 50);
}

}  // namespace
