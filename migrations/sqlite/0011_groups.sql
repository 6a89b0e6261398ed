-- scimkit 0011: groups (SqliteGroupStore) and their memberships, one row per member.
--
-- A group's members are relations, never a list inside the group: a PATCH adding or
-- removing members inserts or deletes those rows only, so its cost grows with the change,
-- not with the group. Every statement is scoped by `tenant`.
CREATE TABLE scimkit_groups (
    tenant             TEXT    NOT NULL,
    id                 TEXT    NOT NULL,
    -- creation order within the tenant (a value of the tenant's counter, like users')
    seq                INTEGER NOT NULL,
    display_name       TEXT    NOT NULL,
    -- displayName lower-cased in Rust (fold_user_name): the uniqueness key
    display_name_lower TEXT    NOT NULL,
    external_id        TEXT,
    -- meta.created / meta.lastModified as (unix seconds, nanoseconds)
    created_s          INTEGER NOT NULL,
    created_ns         INTEGER NOT NULL,
    modified_s         INTEGER NOT NULL,
    modified_ns        INTEGER NOT NULL,
    -- meta.version is W/"<version>"
    version            INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX scimkit_groups_display_name ON scimkit_groups (tenant, display_name_lower);
CREATE INDEX scimkit_groups_external_id ON scimkit_groups (tenant, external_id);
CREATE UNIQUE INDEX scimkit_groups_order ON scimkit_groups (tenant, seq);

-- One row per membership, keyed by group (a group's members, an edit's rows) and indexed
-- by user (a user's groups, a deleted user's rows). A row names a user of the same tenant
-- (the store inserts only ids it finds in scimkit_users).
CREATE TABLE scimkit_group_members (
    tenant   TEXT NOT NULL,
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (tenant, group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX scimkit_group_members_user ON scimkit_group_members (tenant, user_id, group_id);

-- A deleted user leaves every group in the transaction of its delete (SQLite's foreign
-- keys would need `PRAGMA foreign_keys` on every connection: a trigger does the cascade).
CREATE TRIGGER scimkit_users_groups_delete AFTER DELETE ON scimkit_users
BEGIN
    DELETE FROM scimkit_group_members WHERE tenant = OLD.tenant AND user_id = OLD.id;
END;
