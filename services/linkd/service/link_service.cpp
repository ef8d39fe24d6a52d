#include "service/link_service.hpp"

#include "service/crypto.hpp"

#include <keel/http/parser.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace linkd {
namespace {

constexpr std::array<std::string_view, 14> kReserved = {"v1",      "v2",      "healthz", "readyz", "livez",
                                                        "metrics", "openapi", "debug",   "admin",  "api",
                                                        "docs",    "static",  "assets",  "favicon"};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

ServiceError not_found(std::string_view slug) {
    return {Fault::not_found, "no link with slug \"" + std::string(slug) + "\"", {}};
}

ServiceError invalid(keel::json::Errors fields) {
    return {Fault::invalid, "the link failed validation", std::move(fields)};
}

}  // namespace

std::optional<std::string> LinkService::url_problem(std::string_view url) {
    if (url.empty()) {
        return "must not be empty";
    }
    if (url.size() > 2048) {
        return "must be at most 2048 bytes long";
    }
    for (unsigned char c : url) {
        if (c <= 0x20 || c >= 0x7f) {
            return "must not contain spaces, control or non-ASCII characters (percent-encode them)";
        }
    }
    std::size_t colon = url.find("://");
    std::string_view scheme = colon == std::string_view::npos ? std::string_view{} : url.substr(0, colon);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
        return "must be an absolute http or https URL";
    }
    std::string_view rest = url.substr(colon + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos) {
        return "must not contain credentials (user:password@)";
    }
    std::string_view host = authority;
    if (!host.empty() && host.front() == '[') {  // IPv6 literal
        std::size_t close = host.find(']');
        if (close == std::string_view::npos || close == 1) {
            return "must have a valid host";
        }
        std::string_view after = host.substr(close + 1);
        if (!after.empty() && after.front() != ':') {
            return "must have a valid host";
        }
        host = host.substr(0, close + 1);
        authority = after;
    } else {
        std::size_t port = host.rfind(':');
        authority = port == std::string_view::npos ? std::string_view{} : host.substr(port);
        host = host.substr(0, port);
    }
    if (host.empty()) {
        return "must have a host";
    }
    if (!keel::http::valid_host(host)) {
        return "must have a valid host";
    }
    if (!authority.empty()) {  // ":port"
        std::string_view port = authority.substr(1);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
            return "must have a valid port (1 to 65535)";
        }
    }
    return std::nullopt;
}

std::optional<std::string> LinkService::slug_problem(std::string_view slug) {
    if (slug.size() < 3 || slug.size() > 64 || !std::all_of(slug.begin(), slug.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        })) {
        return "must be 3 to 64 letters, digits, '_' or '-'";
    }
    for (std::string_view r : kReserved) {
        if (iequals(slug, r)) {
            return "is reserved";
        }
    }
    return std::nullopt;
}

std::string encode_cursor(std::int64_t id) {
    // Opaque to clients, but not secret: the id before which the next page starts, in base 36
    // behind a version tag, so the format can change without breaking old cursors silently.
    std::string digits;
    for (std::uint64_t v = static_cast<std::uint64_t>(id); v > 0; v /= 36) {
        digits += "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    }
    std::reverse(digits.begin(), digits.end());
    return "c1." + digits;
}

std::optional<std::int64_t> decode_cursor(std::string_view cursor) {
    if (cursor.substr(0, 3) != "c1." || cursor.size() < 4 || cursor.size() > 16) {
        return std::nullopt;
    }
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(cursor.data() + 3, cursor.data() + cursor.size(), id, 36);
    if (ec != std::errc() || end != cursor.data() + cursor.size() || id <= 0) {
        return std::nullopt;
    }
    return id;
}

LinkService::LinkService(Repository& repo, ClickCounter& clicks, LinkServiceOptions options)
    : repo_(repo), clicks_(clicks), options_(std::move(options)), cache_({.max_entries = options_.cache_entries}) {}

Link LinkService::with_pending(Link l) const {
    std::int64_t pending = clicks_.pending(l.id);
    l.clicks += pending;
    l.modified_at = std::max(l.updated_at, l.last_click_at.value_or(0));
    if (pending > 0) {
        l.modified_at = std::max(l.modified_at, options_.now());  // clicked since the last flush
    }
    return l;
}

Task<ServiceResult<Link>> LinkService::create(const Principal& caller, CreateLinkInput in, std::string trace_parent) {
    keel::json::Errors errors;
    if (auto p = url_problem(in.url)) {
        errors.push_back({"/url", *p});
    }
    if (in.slug) {
        if (auto p = slug_problem(*in.slug)) {
            errors.push_back({"/slug", *p});
        }
    }
    const std::int64_t now = options_.now();
    std::optional<std::int64_t> expires;
    if (in.expires_at) {
        expires = parse_time(*in.expires_at);
        if (!expires) {
            errors.push_back({"/expires_at", "must be an RFC 3339 date-time (2026-12-31T23:59:59Z)"});
        } else if (*expires <= now) {
            errors.push_back({"/expires_at", "must be in the future"});
        }
    }
    if (!errors.empty()) {
        co_return invalid(std::move(errors));
    }
    Link link;
    link.url = std::move(in.url);
    link.owner = caller.key_id;
    link.permanent = in.permanent.value_or(false);
    link.created_at = link.updated_at = now;
    link.expires_at = expires;
    if (!in.slug) {
        co_return co_await insert_with_generated_slug(std::move(link), std::move(trace_parent));
    }
    link.slug = *in.slug;
    EventFor event = created_event(std::move(trace_parent));  // named: GCC 12 mishandles such temporaries in co_await
    auto inserted = co_await repo_.insert_link(link, std::move(event));
    if (!inserted) {
        if (inserted.error().code() == keel::Errc::conflict) {
            co_return ServiceError{Fault::conflict, "the slug \"" + link.slug + "\" is taken", {}};
        }
        co_return ServiceError(inserted.error());
    }
    co_await invalidate(link.slug);  // drop negative entries for this slug
    if (metrics_.links_created) {
        metrics_.links_created->inc();
    }
    co_return std::move(*inserted);
}

namespace {

// `make(link)`'s job, which carries `trace_parent`.
template <class Make>
EventFor traced(Make make, std::string trace_parent) {
    return [make = std::move(make), trace_parent = std::move(trace_parent)](const Link& l) {
        std::optional<keel::jobs::NewJob> job = make(l);
        if (job) {
            job->trace_parent = trace_parent;
        }
        return job;
    };
}

}  // namespace

EventFor LinkService::created_event(std::string trace_parent) const {
    if (!events_) {
        return {};
    }
    return traced([events = events_](const Link& l) { return events->link_created(l); }, std::move(trace_parent));
}

EventFor LinkService::deleted_event(std::string trace_parent) const {
    if (!events_) {
        return {};
    }
    return traced([events = events_](const Link& l) { return events->link_deleted(l); }, std::move(trace_parent));
}

Task<ServiceResult<Link>> LinkService::insert_with_generated_slug(Link link, std::string trace_parent) {
    // 62^7 ≈ 3.5e12 slugs: a collision is rare; after a few, longer slugs make the next one rarer.
    std::size_t length = options_.slug_length;
    for (int attempt = 0; attempt < 8; ++attempt) {
        link.slug = random_base62(length + static_cast<std::size_t>(attempt / 3));
        if (slug_problem(link.slug)) {
            continue;  // a reserved word drawn by chance
        }
        EventFor event = created_event(trace_parent);  // named: GCC 12 mishandles such temporaries in co_await
        auto inserted = co_await repo_.insert_link(link, std::move(event));
        if (inserted) {
            co_await invalidate(link.slug);
            if (metrics_.links_created) {
                metrics_.links_created->inc();
            }
            co_return std::move(*inserted);
        }
        if (inserted.error().code() != keel::Errc::conflict) {
            co_return ServiceError(inserted.error());
        }
    }
    co_return ServiceError{Fault::internal, "could not generate a free slug", {}};
}

Task<ServiceResult<Link>> LinkService::get(const Principal& caller, std::string slug) {
    if (slug_problem(slug)) {
        co_return not_found(slug);
    }
    KEEL_CO_TRY(found, co_await repo_.find_link(slug));
    if (!found || found->owner != caller.key_id) {
        co_return not_found(slug);  // another key's link does not exist for this caller
    }
    co_return with_pending(std::move(*found));
}

Task<ServiceResult<Link>> LinkService::update(const Principal& caller, std::string slug, UpdateLinkInput in) {
    keel::json::Errors errors;
    LinkChange change;
    if (in.url.is_null()) {
        errors.push_back({"/url", "must be an absolute http or https URL, not null"});
    } else if (in.url) {
        if (auto p = url_problem(*in.url)) {
            errors.push_back({"/url", *p});
        }
        change.url = std::move(*in.url);
    }
    const std::int64_t now = options_.now();
    if (in.expires_at.is_null()) {
        change.expires_at = std::optional<std::int64_t>{};
    } else if (in.expires_at) {
        auto t = parse_time(*in.expires_at);
        if (!t) {
            errors.push_back({"/expires_at", "must be an RFC 3339 date-time (2026-12-31T23:59:59Z) or null"});
        } else if (*t <= now) {
            errors.push_back({"/expires_at", "must be in the future"});
        } else {
            change.expires_at = t;
        }
    }
    if (in.permanent.is_null()) {
        errors.push_back({"/permanent", "must be true or false, not null"});
    } else if (in.permanent) {
        change.permanent = *in.permanent;
    }
    if (errors.empty() && !change.url && !change.expires_at && !change.permanent) {
        errors.push_back({"", "must change at least one of url, expires_at, permanent"});
    }
    if (!errors.empty()) {
        co_return invalid(std::move(errors));
    }
    if (slug_problem(slug)) {
        co_return not_found(slug);
    }
    KEEL_CO_TRY(updated, co_await repo_.update_link(caller.key_id, slug, std::move(change), now));
    if (!updated) {
        co_return not_found(slug);
    }
    co_await invalidate(slug);
    co_return with_pending(std::move(*updated));
}

Task<ServiceResult<void>> LinkService::remove(const Principal& caller, std::string slug, std::string trace_parent) {
    if (slug_problem(slug)) {
        co_return not_found(slug);
    }
    EventFor event = deleted_event(std::move(trace_parent));
    KEEL_CO_TRY(deleted, co_await repo_.delete_link(caller.key_id, slug, std::move(event)));
    if (!deleted) {
        co_return not_found(slug);
    }
    co_await invalidate(slug);
    co_return ServiceResult<void>{};
}

Task<ServiceResult<LinkPage>> LinkService::list(const Principal& caller, std::optional<int> limit,
                                                std::optional<std::string> cursor) {
    keel::json::Errors errors;
    int n = limit.value_or(kDefaultPage);
    if (n < 1 || n > kMaxPage) {
        errors.push_back({"/limit", "must be an integer from 1 to 100"});
    }
    std::optional<std::int64_t> before;
    if (cursor) {
        before = decode_cursor(*cursor);
        if (!before) {
            errors.push_back({"/cursor", "is not a cursor this API returned"});
        }
    }
    if (!errors.empty()) {
        co_return ServiceError{Fault::invalid, "the query parameters failed validation", std::move(errors)};
    }
    // One extra row tells whether another page follows.
    KEEL_CO_TRY(rows, co_await repo_.list_links(caller.key_id, before, n + 1));
    LinkPage page;
    bool more = rows.size() > static_cast<std::size_t>(n);
    if (more) {
        rows.pop_back();
    }
    for (Link& l : rows) {
        page.items.push_back(with_pending(std::move(l)));
    }
    if (more) {
        page.next_cursor = encode_cursor(page.items.back().id);
    }
    co_return page;
}

Task<ServiceResult<LinkStats>> LinkService::stats(const Principal& caller, std::string slug) {
    if (slug_problem(slug)) {
        co_return not_found(slug);
    }
    KEEL_CO_TRY(found, co_await repo_.find_link(slug));
    if (!found || found->owner != caller.key_id) {
        co_return not_found(slug);
    }
    const std::int64_t today = day_of(options_.now());
    const std::int64_t first = today - (kStatsDays - 1);
    KEEL_CO_TRY(days, co_await repo_.clicks_by_day(found->id, first));
    LinkStats s;
    s.slug = found->slug;
    std::int64_t pending = clicks_.pending(found->id);
    s.total_clicks = found->clicks + pending;
    s.days.reserve(kStatsDays);
    std::size_t j = 0;
    for (std::int64_t d = first; d <= today; ++d) {
        std::int64_t n = 0;
        while (j < days.size() && days[j].day < d) {
            ++j;
        }
        if (j < days.size() && days[j].day == d) {
            n = days[j].clicks;
        }
        if (d == today) {
            n += pending;  // not flushed yet: they happened today
        }
        s.days.push_back({d, n});
    }
    co_return s;
}

ServiceResult<Redirect> LinkService::answer(const CachedAnswer& link, std::string_view slug, bool own) {
    if (!link) {
        return not_found(slug);
    }
    if (link->expires_at && *link->expires_at <= options_.now()) {
        return ServiceError{Fault::gone, "the link \"" + std::string(slug) + "\" has expired", {}};
    }
    clicks_.record(link->id);
    if (metrics_.redirects) {
        metrics_.redirects->inc();
    }
    return Redirect{link.get(), own ? link : CachedAnswer{}};
}

Task<ServiceResult<Redirect>> LinkService::follow(std::string slug) {
    std::optional<ServiceResult<Redirect>> hit;
    if (options_.memory_cache) {
        cache_.visit(slug, [&](const CachedAnswer& link) { hit = answer(link, slug, /*own=*/true); });
    }
    if (hit) {
        co_return std::move(*hit);
    }
    co_return co_await follow_uncached(std::move(slug));
}

Task<ServiceResult<Redirect>> LinkService::follow_uncached(std::string slug) {
    if (slug_problem(slug)) {
        co_return not_found(slug);
    }
    // A change heard while loading (here or from another instance) may have come after the
    // database was read: then answer, but do not remember.
    const std::uint64_t changes_before = changes_.load(std::memory_order_acquire);
    KEEL_CO_TRY(link, co_await lookups_.run(slug, [&] { return load(slug); }));
    if (options_.memory_cache && changes_.load(std::memory_order_acquire) == changes_before) {
        cache_.put(slug, link, link ? options_.cache_ttl : options_.negative_ttl);
    }
    co_return answer(link, slug, /*own=*/true);
}

Task<keel::Result<CachedAnswer>> LinkService::load(std::string slug) {
    SharedLookup seen;
    if (shared_) {
        seen = co_await shared_->get(slug);
        if (seen.answer) {
            co_return std::move(*seen.answer);
        }
    }
    auto found = co_await repo_.find_link(slug);
    if (!found) {
        co_return std::move(found).error();
    }
    CachedAnswer link;
    if (*found) {
        const Link& l = **found;
        link = std::make_shared<const CachedLink>(CachedLink{l.id, l.url, l.permanent, l.expires_at});
    }
    if (shared_ && seen.version) {
        co_await shared_->put(slug, link, link ? options_.cache_ttl : options_.negative_ttl, std::move(*seen.version));
    }
    co_return link;
}

Task<void> LinkService::invalidate(std::string slug) {
    forget(slug);
    if (shared_) {
        co_await shared_->invalidate(std::move(slug));
    }
}

Task<keel::Result<std::int64_t>> LinkService::purge_expired(std::int64_t expired_before) {
    constexpr int kBatch = 1000;  // one short write at a time: creations are not held up
    std::int64_t total = 0;
    for (;;) {
        KEEL_CO_TRY(slugs, co_await repo_.purge_expired(expired_before, kBatch));
        for (const std::string& slug : slugs) {
            co_await invalidate(slug);  // cached here (and in Redis): gone now
        }
        total += static_cast<std::int64_t>(slugs.size());
        if (slugs.size() < static_cast<std::size_t>(kBatch)) {
            co_return total;
        }
    }
}

Task<keel::Result<std::int64_t>> LinkService::flush_clicks() {
    const std::int64_t now = options_.now();
    std::vector<ClickDelta> batch = clicks_.take(day_of(now), now);
    if (batch.empty()) {
        co_return std::int64_t{0};
    }
    std::int64_t total = 0;
    for (const ClickDelta& d : batch) {
        total += d.count;
    }
    auto started = keel::Clock::now();
    auto written = co_await repo_.add_clicks(batch);
    if (metrics_.flush_duration) {
        metrics_.flush_duration->observe(std::chrono::duration<double>(keel::Clock::now() - started).count());
    }
    if (!written) {
        clicks_.restore(batch);  // try again at the next flush: nothing counted is lost
        if (metrics_.flush_errors) {
            metrics_.flush_errors->inc();
        }
        co_return std::move(written).error();
    }
    co_return total;
}

}  // namespace linkd
