#pragma once
// The JSON shapes of the API (openapi.yaml's schemas), declared once with KEEL_JSON, and the
// conversions from domain types. Request bodies bind straight into the service's inputs.

#include "service/key_service.hpp"
#include "service/link_service.hpp"

#include <keel/json/describe.hpp>

#include <optional>
#include <string>
#include <vector>

namespace linkd {

KEEL_JSON(CreateLinkInput, url, slug, expires_at, permanent)
KEEL_JSON(UpdateLinkInput, url, expires_at, permanent)

struct CreateKeyInput {
    std::string name = {};
    std::optional<bool> admin = {};
};
KEEL_JSON(CreateKeyInput, name, admin)

struct LinkOut {
    std::string slug = {};
    std::string url = {};
    std::string short_url = {};
    bool permanent = false;
    std::string created_at = {};
    std::string updated_at = {};
    std::optional<std::string> expires_at = {};
    std::int64_t clicks = 0;
};
KEEL_JSON(LinkOut, slug, url, short_url, permanent, created_at, updated_at, expires_at, clicks)

struct LinkPageOut {
    std::vector<LinkOut> items = {};
    std::optional<std::string> next_cursor = {};
};
KEEL_JSON(LinkPageOut, items, next_cursor)

struct DayOut {
    std::string date = {};
    std::int64_t clicks = 0;
};
KEEL_JSON(DayOut, date, clicks)

struct LinkStatsOut {
    std::string slug = {};
    std::int64_t total_clicks = 0;
    std::vector<DayOut> days = {};
};
KEEL_JSON(LinkStatsOut, slug, total_clicks, days)

struct KeyCreatedOut {
    std::int64_t id = 0;
    std::string name = {};
    std::string prefix = {};
    bool admin = false;
    std::string created_at = {};
    std::string key = {};
};
KEEL_JSON(KeyCreatedOut, id, name, prefix, admin, created_at, key)

/// GET /v1/links's query (read with query_scalar; declared for the contract's parameters).
struct ListLinksQuery {
    std::optional<std::int32_t> limit = {};
    std::optional<std::string> cursor = {};
};
KEEL_JSON(ListLinksQuery, limit, cursor)

inline LinkOut to_out(const Link& l, std::string_view base_url) {
    return {l.slug,
            l.url,
            std::string(base_url) + "/" + l.slug,
            l.permanent,
            format_time(l.created_at),
            format_time(l.updated_at),
            l.expires_at ? std::optional<std::string>(format_time(*l.expires_at)) : std::nullopt,
            l.clicks};
}

inline KeyCreatedOut to_out(const CreatedKey& k) {
    return {k.key.id, k.key.name, std::string("lk_") + k.key.prefix, k.key.admin, format_time(k.key.created_at),
            k.secret};
}

}  // namespace linkd
