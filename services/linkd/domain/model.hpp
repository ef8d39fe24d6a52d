#pragma once
// linkd's domain types: what the service layer works with and the repository stores (each
// layer includes this folder; none includes another's). Times are Unix seconds (UTC); days are
// days since 1970-01-01 (UTC). The stored types are described once (KEEL_DESCRIBE): the
// repositories read rows into them by column name, whichever database.

#include <keel/core/describe.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace linkd {

struct Link {
    std::int64_t id = 0;
    std::string slug = {};
    std::string url = {};
    std::int64_t owner = 0;  ///< the API key that created it
    bool permanent = false;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    std::optional<std::int64_t> expires_at = {};
    std::int64_t clicks = 0;                         ///< flushed clicks (pending ones live in ClickCounter)
    std::optional<std::int64_t> last_click_at = {};  ///< as of the last flush
    /// When the representation last changed (owner edits, clicks): set by the service for
    /// Last-Modified, not stored.
    std::int64_t modified_at = 0;
};
KEEL_DESCRIBE(Link, id, slug, url, owner, permanent, created_at, updated_at, expires_at, clicks, last_click_at)

/// A PATCH: members left empty are unchanged; expires_at holding nullopt removes the expiry.
struct LinkChange {
    std::optional<std::string> url = {};
    std::optional<std::optional<std::int64_t>> expires_at = {};
    std::optional<bool> permanent = {};
};

struct ApiKey {
    std::int64_t id = 0;
    std::string name = {};
    std::string prefix = {};  ///< the first characters of the key, unique: the lookup index
    std::string hash = {};    ///< SHA-256 of the whole key, hex
    bool admin = false;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> revoked_at = {};
};
KEEL_DESCRIBE(ApiKey, id, name, prefix, hash, admin, created_at, revoked_at)

struct DayClicks {
    std::int64_t day = 0;
    std::int64_t clicks = 0;
};
KEEL_DESCRIBE(DayClicks, day, clicks)

/// Clicks to add to one link on one day.
struct ClickDelta {
    std::int64_t link_id = 0;
    std::int64_t day = 0;
    std::int64_t count = 0;
    std::int64_t at = 0;  ///< when the batch was taken (Unix seconds)
};

/// Who is calling: the authenticated API key.
struct Principal {
    std::int64_t key_id = 0;
    bool admin = false;
    std::string prefix = {};
};

}  // namespace linkd
