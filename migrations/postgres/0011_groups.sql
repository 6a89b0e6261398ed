-- scimkit 0011: groups (PostgresGroupStore) and their memberships, one row per member.
--
-- A group's members are relations, never a list inside the group: a PATCH adding or
-- removing members inserts or deletes those rows only, so its cost grows with the change,
-- not with the group. Every statement is scoped by `tenant`.
CREATE TABLE scimkit_groups (
    tenant             text   NOT NULL,
    id                 text   NOT NULL,
    -- creation order within the tenant (a value of the tenant's counter, like users')
    seq                bigint NOT NULL,
    display_name       text   NOT NULL,
    -- displayName lower-cased in Rust (fold_user_name): the uniqueness key
    display_name_lower text   NOT NULL,
    external_id        text,
    -- meta.created / meta.lastModified as (unix seconds, nanoseconds)
    created_s          bigint NOT NULL,
    created_ns         bigint NOT NULL,
    modified_s         bigint NOT NULL,
    modified_ns        bigint NOT NULL,
    -- meta.version is W/"<version>"
    version            bigint NOT NULL,
    CONSTRAINT scimkit_groups_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT scimkit_groups_display_name_key UNIQUE (tenant, display_name_lower)
);
CREATE INDEX scimkit_groups_external_id ON scimkit_groups (tenant, external_id);
CREATE UNIQUE INDEX scimkit_groups_order ON scimkit_groups (tenant, seq);

-- One row per membership, keyed by group (a group's members, an edit's rows) and indexed
-- by user (a user's groups, a deleted user's rows). A row names a user of the same tenant
-- (the foreign key), and goes with the user (ON DELETE CASCADE); the store deletes a
-- group's rows with the group.
CREATE TABLE scimkit_group_members (
    tenant   text NOT NULL,
    group_id text NOT NULL,
    user_id  text NOT NULL,
    CONSTRAINT scimkit_group_members_pkey PRIMARY KEY (tenant, group_id, user_id),
    CONSTRAINT scimkit_group_members_user_fkey FOREIGN KEY (tenant, user_id)
        REFERENCES scimkit_users (tenant, id) ON DELETE CASCADE
);
CREATE INDEX scimkit_group_members_user ON scimkit_group_members (tenant, user_id, group_id);
