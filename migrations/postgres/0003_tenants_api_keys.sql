-- scimkit 0003: tenant settings (PostgresTenantStore) and API keys (PostgresApiKeyStore).

-- One row per tenant ever switched; the two switches are set independently, each by one
-- INSERT ... ON CONFLICT DO UPDATE that names only its own column. COLLATE "C": lists
-- are ordered by bytes, whatever the database's collation.
CREATE TABLE scimkit_tenants (
    id            text    COLLATE "C" NOT NULL,
    -- the vendor's switch
    scim_entitled boolean NOT NULL DEFAULT false,
    -- the account admin's switch
    scim_enabled  boolean NOT NULL DEFAULT false,
    CONSTRAINT scimkit_tenants_pkey PRIMARY KEY (id)
);

-- API keys: never the secret, only its SHA-256 digest. Instants are (unix seconds,
-- nanoseconds), so they come back exactly as stored (timestamptz keeps microseconds).
CREATE TABLE scimkit_api_keys (
    -- creation order: the order of lists
    seq          bigint  GENERATED ALWAYS AS IDENTITY,
    id           text    NOT NULL,
    tenant       text    NOT NULL,
    name         text    NOT NULL,
    -- the 32-byte SHA-256 digest of the secret
    hash         bytea   NOT NULL,
    created_s    bigint  NOT NULL,
    created_ns   bigint  NOT NULL,
    last_used_s  bigint,
    last_used_ns bigint,
    expires_s    bigint,
    expires_ns   bigint,
    revoked_s    bigint,
    revoked_ns   bigint,
    CONSTRAINT scimkit_api_keys_pkey PRIMARY KEY (id),
    -- every request is authenticated by this index
    CONSTRAINT scimkit_api_keys_hash_key UNIQUE (hash)
);
CREATE INDEX scimkit_api_keys_tenant ON scimkit_api_keys (tenant, seq);
