-- linkd's schema on SQLite. Times are Unix seconds (UTC), days are days since 1970-01-01.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    prefix      TEXT    NOT NULL UNIQUE,
    hash        TEXT    NOT NULL,
    admin       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE links (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT    NOT NULL UNIQUE,
    url         TEXT    NOT NULL,
    owner       INTEGER NOT NULL REFERENCES api_keys (id),
    permanent   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    clicks      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX links_owner_id ON links (owner, id DESC);

CREATE TABLE clicks_daily (
    link_id     INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    day         INTEGER NOT NULL,
    clicks      INTEGER NOT NULL,
    PRIMARY KEY (link_id, day)
) WITHOUT ROWID;
