-- scimkit 0007: fewer B-tree pages written by each create and update.
--
-- Every index is a page (often a random one) written by each write that touches its key:
-- a create wrote about a dozen, an update of `displayName` about eight. Sorted pages are
-- asked for by `name.familyName` (its index stays); a page sorted by `name.givenName` or
-- `displayName` now sorts the tenant's matching rows instead of paying an index on
-- every write.
DROP INDEX scimkit_users_given_name;
DROP INDEX scimkit_users_display_name;

-- The email index is its own table's key (one B-tree instead of a table and an index),
-- and an update rewrites its rows only when the emails changed.
DROP TRIGGER scimkit_users_emails_insert;
DROP TRIGGER scimkit_users_emails_update;
DROP TRIGGER scimkit_users_emails_delete;

CREATE TABLE scimkit_user_emails_v7 (
    tenant   TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    user_seq INTEGER NOT NULL,
    PRIMARY KEY (tenant, value, user_seq)
) WITHOUT ROWID;
INSERT OR IGNORE INTO scimkit_user_emails_v7 (tenant, value, user_seq)
SELECT tenant, value, user_seq FROM scimkit_user_emails;
DROP TABLE scimkit_user_emails;
ALTER TABLE scimkit_user_emails_v7 RENAME TO scimkit_user_emails;
CREATE INDEX scimkit_user_emails_user ON scimkit_user_emails (tenant, user_seq);

-- A user listing one address twice (in any case) has one row for it.
CREATE TRIGGER scimkit_users_emails_insert AFTER INSERT ON scimkit_users
BEGIN
    INSERT OR IGNORE INTO scimkit_user_emails (tenant, value, user_seq)
    SELECT NEW.tenant, json_extract(e.value, '$.value'), NEW.seq
    FROM json_each(NEW.search, '$.emails') AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;

CREATE TRIGGER scimkit_users_emails_update AFTER UPDATE OF search ON scimkit_users
WHEN json_extract(OLD.search, '$.emails') IS NOT json_extract(NEW.search, '$.emails')
BEGIN
    DELETE FROM scimkit_user_emails WHERE tenant = OLD.tenant AND user_seq = OLD.seq;
    INSERT OR IGNORE INTO scimkit_user_emails (tenant, value, user_seq)
    SELECT NEW.tenant, json_extract(e.value, '$.value'), NEW.seq
    FROM json_each(NEW.search, '$.emails') AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;

CREATE TRIGGER scimkit_users_emails_delete AFTER DELETE ON scimkit_users
BEGIN
    DELETE FROM scimkit_user_emails WHERE tenant = OLD.tenant AND user_seq = OLD.seq;
END;
