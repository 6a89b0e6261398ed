-- scimkit 0001: the users table.
-- One row per user; every statement of the store is scoped by `tenant`.
CREATE TABLE scimkit_users (
    -- creation order: the stable order of list pages (never reused)
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant          TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    user_name       TEXT    NOT NULL,
    -- userName lower-cased in Rust (str::to_lowercase): the uniqueness key
    user_name_lower TEXT    NOT NULL,
    external_id     TEXT,
    active          INTEGER,
    -- meta.created / meta.lastModified as (unix seconds, nanoseconds)
    created_s       INTEGER,
    created_ns      INTEGER,
    modified_s      INTEGER,
    modified_ns     INTEGER,
    -- meta.version is W/"<version>"
    version         INTEGER NOT NULL,
    -- the resource as JSON, without password and meta.version
    resource        TEXT    NOT NULL,
    -- the resource with the strings of caseExact=false attributes lower-cased, for filters
    search          TEXT    NOT NULL,
    -- ' path1 path2 ... ': the attribute paths for which `pr` holds
    present         TEXT    NOT NULL
);
CREATE UNIQUE INDEX scimkit_users_id ON scimkit_users (tenant, id);
CREATE UNIQUE INDEX scimkit_users_user_name ON scimkit_users (tenant, user_name_lower);
CREATE INDEX scimkit_users_external_id ON scimkit_users (tenant, external_id);
CREATE INDEX scimkit_users_order ON scimkit_users (tenant, seq);

-- Database-wide counters: `user_version` hands out every meta.version.
CREATE TABLE scimkit_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO scimkit_counters (name, value) VALUES ('user_version', 0);
