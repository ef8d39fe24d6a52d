-- linkd's schema on PostgreSQL. Times are Unix seconds (UTC), days are days since 1970-01-01,
-- the same representation as on SQLite so that one repository contract fits both.
CREATE TABLE api_keys (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text    NOT NULL,
    prefix      text    NOT NULL UNIQUE,
    hash        text    NOT NULL,
    admin       boolean NOT NULL DEFAULT false,
    created_at  bigint  NOT NULL,
    revoked_at  bigint
);

CREATE TABLE links (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text    NOT NULL UNIQUE,
    url         text    NOT NULL,
    owner       bigint  NOT NULL REFERENCES api_keys (id),
    permanent   boolean NOT NULL DEFAULT false,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    expires_at  bigint,
    clicks      bigint  NOT NULL DEFAULT 0
);
CREATE INDEX links_owner_id ON links (owner, id DESC);

CREATE TABLE clicks_daily (
    link_id     bigint  NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    day         integer NOT NULL,
    clicks      bigint  NOT NULL,
    PRIMARY KEY (link_id, day)
);
