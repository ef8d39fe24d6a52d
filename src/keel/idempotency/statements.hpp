#pragma once
// What both stores say alike, with SQLite's ?N (db::postgres_placeholders makes them $N): the
// schema, the statements and the row begin() reads when the key was not free.
#include <keel/core/describe.hpp>
#include <keel/db/migrate.hpp>
#include <keel/idempotency/store.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace keel::idempotency::sql {

inline constexpr std::string_view kMigrationsTable = "keel_idempotency_migrations";

// BIGINT and TEXT mean the same on both: Unix milliseconds, and bodies that are text (JSON).
// clang-format off
inline constexpr std::array<db::Migration, 1> kMigrations = {{
    {1, "0001_keel_idempotency_keys.sql", R"sql(
CREATE TABLE keel_idempotency_keys (
    principal TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    owner TEXT,            -- the run holding the key; NULL once its response is stored
    locked_until BIGINT,   -- when another request may take a held key over
    status INTEGER,        -- the stored response (NULL while running)
    headers TEXT,
    body TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (principal, idempotency_key, method, path)
);
CREATE INDEX keel_idempotency_keys_expiry ON keel_idempotency_keys (expires_at);
)sql"},
}};
// clang-format on

// ?1 principal, ?2 key, ?3 method, ?4 path, ?5 fingerprint, ?6 owner, ?7 locked_until, ?8 now,
// ?9 expires_at. A row back: the caller holds the key.
inline constexpr std::string_view kBegin =
    "INSERT INTO keel_idempotency_keys (principal, idempotency_key, method, path, fingerprint, owner, locked_until, "
    "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (principal, idempotency_key, method, path) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "owner = excluded.owner, locked_until = excluded.locked_until, status = NULL, headers = NULL, body = NULL, "
    "created_at = excluded.created_at, expires_at = excluded.expires_at "
    "WHERE keel_idempotency_keys.expires_at <= excluded.created_at OR (keel_idempotency_keys.status IS NULL AND "
    "keel_idempotency_keys.locked_until <= excluded.created_at AND "
    "keel_idempotency_keys.fingerprint = excluded.fingerprint) RETURNING owner";
// ?1-?4 the scope
inline constexpr std::string_view kFind =
    "SELECT fingerprint, status, headers, body FROM keel_idempotency_keys WHERE principal = ?1 AND "
    "idempotency_key = ?2 AND method = ?3 AND path = ?4";
// ?1-?4 the scope, ?5 owner, ?6 status, ?7 headers, ?8 body
inline constexpr std::string_view kComplete =
    "UPDATE keel_idempotency_keys SET status = ?6, headers = ?7, body = ?8, owner = NULL, locked_until = NULL "
    "WHERE principal = ?1 AND idempotency_key = ?2 AND method = ?3 AND path = ?4 AND owner = ?5";
// ?1-?4 the scope, ?5 owner
inline constexpr std::string_view kRelease =
    "DELETE FROM keel_idempotency_keys WHERE principal = ?1 AND idempotency_key = ?2 AND method = ?3 AND path = ?4 "
    "AND owner = ?5 AND status IS NULL";
// ?1 now
inline constexpr std::string_view kPrune = "DELETE FROM keel_idempotency_keys WHERE expires_at <= ?1";

struct KeyRow {
    std::string fingerprint;
    std::optional<int> status;
    std::optional<std::string> headers;
    std::optional<std::string> body;
};
KEEL_DESCRIBE(KeyRow, fingerprint, status, headers, body)

/// What a key found not free holds, for the request fingerprinted `fingerprint`.
inline Begun held(const KeyRow& row, const std::string& fingerprint) {
    if (row.fingerprint != fingerprint) {
        return {.outcome = Begun::Outcome::mismatch};
    }
    if (!row.status) {
        return {.outcome = Begun::Outcome::in_progress};
    }
    return {.outcome = Begun::Outcome::replay,
            .response = {.status = *row.status, .headers = row.headers.value_or(""), .body = row.body.value_or("")}};
}

}  // namespace keel::idempotency::sql
