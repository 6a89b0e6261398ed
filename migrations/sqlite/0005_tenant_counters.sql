-- scimkit 0005: versions and creation order per tenant, so that neither meta.version nor
-- a cursor position reveals anything about the writes of other tenants.

-- One row per tenant, bumped in the transaction of each write of its users: a create
-- takes one value as both its `seq` and its version, a replace one as its version.
CREATE TABLE scimkit_tenant_counters (
    tenant TEXT    PRIMARY KEY,
    value  INTEGER NOT NULL
) WITHOUT ROWID;

-- A version or seq is never reused for a resource: every tenant known so far starts above
-- everything the database-wide counters (no longer used) handed out. A tenant first
-- written after this migration starts at 1.
INSERT INTO scimkit_tenant_counters (tenant, value)
SELECT t.tenant, MAX(
    (SELECT value FROM scimkit_counters WHERE name = 'user_version'),
    COALESCE((SELECT MAX(seq) FROM scimkit_users), 0)
)
FROM (
    SELECT tenant FROM scimkit_users
    UNION SELECT id FROM scimkit_tenants
    UNION SELECT tenant FROM scimkit_api_keys
    UNION SELECT tenant FROM scimkit_outbox
) AS t;

-- The users table again, with `seq` set by the store from the tenant's counter (unique
-- per tenant) instead of a database-wide AUTOINCREMENT key. Existing rows keep their seq.
CREATE TABLE scimkit_users_v5 (
    -- creation order within the tenant: the stable order of list pages (never reused)
    seq             INTEGER NOT NULL,
    tenant          TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    user_name       TEXT    NOT NULL,
    user_name_lower TEXT    NOT NULL,
    external_id     TEXT,
    active          INTEGER,
    created_s       INTEGER,
    created_ns      INTEGER,
    modified_s      INTEGER,
    modified_ns     INTEGER,
    version         INTEGER NOT NULL,
    resource        TEXT    NOT NULL,
    search          TEXT    NOT NULL,
    present         TEXT    NOT NULL
);
INSERT INTO scimkit_users_v5 (seq, tenant, id, user_name, user_name_lower, external_id,
    active, created_s, created_ns, modified_s, modified_ns, version, resource, search, present)
SELECT seq, tenant, id, user_name, user_name_lower, external_id,
    active, created_s, created_ns, modified_s, modified_ns, version, resource, search, present
FROM scimkit_users ORDER BY seq;
-- Drops the old indexes and the email triggers with it.
DROP TABLE scimkit_users;
ALTER TABLE scimkit_users_v5 RENAME TO scimkit_users;
CREATE UNIQUE INDEX scimkit_users_id ON scimkit_users (tenant, id);
CREATE UNIQUE INDEX scimkit_users_user_name ON scimkit_users (tenant, user_name_lower);
CREATE INDEX scimkit_users_external_id ON scimkit_users (tenant, external_id);
CREATE UNIQUE INDEX scimkit_users_order ON scimkit_users (tenant, seq);

-- The email index, keyed by (tenant, seq) from now on.
DROP INDEX scimkit_user_emails_user;
CREATE INDEX scimkit_user_emails_user ON scimkit_user_emails (tenant, user_seq);

CREATE TRIGGER scimkit_users_emails_insert AFTER INSERT ON scimkit_users
BEGIN
    INSERT INTO scimkit_user_emails (user_seq, tenant, value)
    SELECT NEW.seq, NEW.tenant, json_extract(e.value, '$.value')
    FROM json_each(NEW.search, '$.emails') AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;

CREATE TRIGGER scimkit_users_emails_update AFTER UPDATE OF search ON scimkit_users
BEGIN
    DELETE FROM scimkit_user_emails WHERE tenant = OLD.tenant AND user_seq = OLD.seq;
    INSERT INTO scimkit_user_emails (user_seq, tenant, value)
    SELECT NEW.seq, NEW.tenant, json_extract(e.value, '$.value')
    FROM json_each(NEW.search, '$.emails') AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;

CREATE TRIGGER scimkit_users_emails_delete AFTER DELETE ON scimkit_users
BEGIN
    DELETE FROM scimkit_user_emails WHERE tenant = OLD.tenant AND user_seq = OLD.seq;
END;
