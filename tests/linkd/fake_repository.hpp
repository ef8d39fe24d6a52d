#pragma once
// An in-memory Repository for the service layer's unit tests (the real ones are tested
// against SQLite and PostgreSQL in repository_test.cpp). `down = true` makes every call fail
// as a lost database would.

#include "repository/repository.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace linkd::test {

class FakeRepository : public Repository {
  public:
    bool down = false;
    int find_link_calls = 0;
    std::map<std::int64_t, Link> links;  // by id
    std::map<std::int64_t, ApiKey> keys;
    std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> daily;
    std::vector<keel::jobs::NewJob> events;  // what the event builders made, as if enqueued

    keel::jobs::Store& jobs() override { throw std::logic_error("FakeRepository has no jobs store"); }
    keel::idempotency::Store& idempotency_keys() override {
        throw std::logic_error("FakeRepository has no idempotency keys");
    }

    Task<Result<int>> migrate() override { co_return 0; }
    Task<Result<void>> ping() override {
        if (down) {
            co_return unavailable();
        }
        co_return Result<void>{};
    }
    Task<Result<Link>> insert_link(Link l, EventFor event) override {
        if (down) {
            co_return unavailable();
        }
        for (auto& [id, x] : links) {
            if (x.slug == l.slug) {
                co_return keel::Error(keel::Errc::conflict, "UNIQUE constraint failed: links.slug");
            }
        }
        l.id = ++next_id_;
        links[l.id] = l;
        record(event, l);
        co_return l;
    }
    Task<Result<std::optional<Link>>> find_link(std::string slug) override {
        ++find_link_calls;
        if (down) {
            co_return unavailable();
        }
        co_return by_slug(slug);
    }
    Task<Result<std::optional<Link>>> update_link(std::int64_t owner, std::string slug, LinkChange ch,
                                                  std::int64_t now) override {
        if (down) {
            co_return unavailable();
        }
        auto l = by_slug(slug);
        if (!l || l->owner != owner) {
            co_return std::optional<Link>{};
        }
        Link& x = links[l->id];
        if (ch.url)
            x.url = *ch.url;
        if (ch.expires_at)
            x.expires_at = *ch.expires_at;
        if (ch.permanent)
            x.permanent = *ch.permanent;
        x.updated_at = now;
        co_return std::optional<Link>(x);
    }
    Task<Result<std::optional<Link>>> delete_link(std::int64_t owner, std::string slug, EventFor event) override {
        if (down) {
            co_return unavailable();
        }
        auto l = by_slug(slug);
        if (!l || l->owner != owner) {
            co_return std::optional<Link>{};
        }
        links.erase(l->id);
        record(event, *l);
        co_return l;
    }
    Task<Result<std::vector<std::string>>> purge_expired(std::int64_t expired_before, int limit) override {
        if (down) {
            co_return unavailable();
        }
        std::vector<std::string> n;
        for (auto it = links.begin(); it != links.end() && static_cast<int>(n.size()) < limit;) {
            if (it->second.expires_at && *it->second.expires_at < expired_before) {
                n.push_back(it->second.slug);
                it = links.erase(it);
            } else {
                ++it;
            }
        }
        co_return n;
    }
    Task<Result<std::vector<Link>>> list_links(std::int64_t owner, std::optional<std::int64_t> before,
                                               int limit) override {
        if (down) {
            co_return unavailable();
        }
        std::vector<Link> out;
        for (auto it = links.rbegin(); it != links.rend() && static_cast<int>(out.size()) < limit; ++it) {
            if (it->second.owner == owner && it->first < before.value_or(INT64_MAX)) {
                out.push_back(it->second);
            }
        }
        co_return out;
    }
    Task<Result<void>> add_clicks(std::vector<ClickDelta> batch) override {
        if (down) {
            co_return unavailable();
        }
        for (auto& d : batch) {
            if (links.count(d.link_id)) {
                links[d.link_id].clicks += d.count;
                links[d.link_id].last_click_at = d.at;
                daily[{d.link_id, d.day}] += d.count;
            }
        }
        co_return Result<void>{};
    }
    Task<Result<std::vector<DayClicks>>> clicks_by_day(std::int64_t link_id, std::int64_t from_day) override {
        std::vector<DayClicks> out;
        for (auto& [k, v] : daily) {
            if (k.first == link_id && k.second >= from_day) {
                out.push_back({k.second, v});
            }
        }
        co_return out;
    }
    Task<Result<ApiKey>> insert_key(ApiKey k) override {
        if (down) {
            co_return unavailable();
        }
        k.id = ++next_key_;
        keys[k.id] = k;
        co_return k;
    }
    Task<Result<std::optional<ApiKey>>> find_key_by_prefix(std::string prefix) override {
        if (down) {
            co_return unavailable();
        }
        for (auto& [id, k] : keys) {
            if (k.prefix == prefix) {
                co_return std::optional<ApiKey>(k);
            }
        }
        co_return std::optional<ApiKey>{};
    }
    Task<Result<bool>> revoke_key(std::int64_t id, std::int64_t now) override {
        auto it = keys.find(id);
        if (it == keys.end() || it->second.revoked_at) {
            co_return false;
        }
        it->second.revoked_at = now;
        co_return true;
    }
    Task<Result<bool>> has_admin_key() override {
        co_return std::any_of(keys.begin(), keys.end(),
                              [](auto& kv) { return kv.second.admin && !kv.second.revoked_at; });
    }
    std::vector<NamedPoolStats> pool_stats() const override { return {}; }
    void close() override {}

  private:
    void record(const EventFor& event, const Link& l) {
        if (event) {
            if (auto job = event(l)) {
                events.push_back(std::move(*job));
            }
        }
    }
    static keel::Error unavailable() { return keel::Error(keel::Errc::unavailable, "database is down"); }
    std::optional<Link> by_slug(const std::string& slug) {
        for (auto& [id, l] : links) {
            if (l.slug == slug) {
                return l;
            }
        }
        return std::nullopt;
    }
    std::int64_t next_id_ = 0;
    std::int64_t next_key_ = 0;
};

}  // namespace linkd::test
