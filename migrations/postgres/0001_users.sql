-- scimkit 0001: the users table.
-- One row per user; every statement of the store is scoped by `tenant`.

-- hands out every meta.version (W/"<n>"): never reused, across all tenants
CREATE SEQUENCE scimkit_user_version;

CREATE TABLE scimkit_users (
    tenant          text    NOT NULL,
    id              text    NOT NULL,
    -- creation order: the stable order of list pages
    seq             bigint  GENERATED ALWAYS AS IDENTITY,
    user_name       text    NOT NULL,
    -- userName lower-cased in Rust (str::to_lowercase): the uniqueness key
    user_name_lower text    NOT NULL,
    external_id     text,
    active          boolean,
    -- meta.created / meta.lastModified as (unix seconds, nanoseconds)
    created_s       bigint,
    created_ns      bigint,
    modified_s      bigint,
    modified_ns     bigint,
    version         bigint  NOT NULL,
    -- the resource as JSON, without password and meta.version
    resource        json    NOT NULL,
    -- the resource with the strings of caseExact=false attributes lower-cased, for filters
    search          jsonb   NOT NULL,
    -- ' path1 path2 ... ': the attribute paths for which `pr` holds
    present         text    NOT NULL,
    CONSTRAINT scimkit_users_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT scimkit_users_user_name_key UNIQUE (tenant, user_name_lower)
);
CREATE INDEX scimkit_users_external_id ON scimkit_users (tenant, external_id);
CREATE UNIQUE INDEX scimkit_users_order ON scimkit_users (tenant, seq);
