-- scimkit 0003: tenant settings (SqliteTenantStore) and API keys (SqliteApiKeyStore).

-- One row per tenant ever switched; the two switches are set independently, each by one
-- UPSERT that names only its own column.
CREATE TABLE scimkit_tenants (
    id            TEXT    PRIMARY KEY,
    -- the vendor's switch
    scim_entitled INTEGER NOT NULL DEFAULT 0,
    -- the account admin's switch
    scim_enabled  INTEGER NOT NULL DEFAULT 0
);

-- API keys: never the secret, only its SHA-256 digest. Instants are (unix seconds,
-- nanoseconds), so they come back exactly as stored.
CREATE TABLE scimkit_api_keys (
    -- creation order: the order of lists
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL,
    tenant       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    -- the 32-byte SHA-256 digest of the secret
    hash         BLOB    NOT NULL,
    created_s    INTEGER NOT NULL,
    created_ns   INTEGER NOT NULL,
    last_used_s  INTEGER,
    last_used_ns INTEGER,
    expires_s    INTEGER,
    expires_ns   INTEGER,
    revoked_s    INTEGER,
    revoked_ns   INTEGER
);
CREATE UNIQUE INDEX scimkit_api_keys_id ON scimkit_api_keys (id);
-- every request is authenticated by this index
CREATE UNIQUE INDEX scimkit_api_keys_hash ON scimkit_api_keys (hash);
CREATE INDEX scimkit_api_keys_tenant ON scimkit_api_keys (tenant, seq);
