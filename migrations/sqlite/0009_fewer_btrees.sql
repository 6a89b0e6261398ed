-- scimkit 0009: two B-trees fewer written by each create.
--
-- A commit writes every page it changed to the write-ahead log, so each B-tree a create
-- touches costs a page (4 KiB, two `pwrite`s) per commit, or per create where its key is
-- random. Two of them served only bookkeeping:
--
-- 1. `scimkit_user_emails_user`, the index of the email rows by user, used only to delete
--    a user's rows. They are now deleted by their own key (tenant, address, row), the
--    addresses read from the `emails` column of the row before the write.
-- 2. `scimkit_tenant_user_counts`, a table of its own for the unfiltered totals: the count
--    is now a column of the tenant's counter row, which every create already writes (its
--    version), so keeping it costs no page.
DROP TRIGGER scimkit_users_emails_update;
DROP TRIGGER scimkit_users_emails_delete;
DROP INDEX scimkit_user_emails_user;

CREATE TRIGGER scimkit_users_emails_update AFTER UPDATE OF emails ON scimkit_users
WHEN OLD.emails IS NOT NEW.emails
BEGIN
    DELETE FROM scimkit_user_emails
    WHERE tenant = OLD.tenant AND user_seq = OLD.seq AND value IN (
        SELECT json_extract(e.value, '$.value') FROM json_each(OLD.emails) AS e
    );
    INSERT OR IGNORE INTO scimkit_user_emails (tenant, value, user_seq)
    SELECT NEW.tenant, json_extract(e.value, '$.value'), NEW.seq
    FROM json_each(NEW.emails) AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;

CREATE TRIGGER scimkit_users_emails_delete AFTER DELETE ON scimkit_users
WHEN OLD.emails IS NOT NULL
BEGIN
    DELETE FROM scimkit_user_emails
    WHERE tenant = OLD.tenant AND user_seq = OLD.seq AND value IN (
        SELECT json_extract(e.value, '$.value') FROM json_each(OLD.emails) AS e
    );
END;

ALTER TABLE scimkit_tenant_counters ADD COLUMN users INTEGER NOT NULL DEFAULT 0;
INSERT INTO scimkit_tenant_counters (tenant, value, users)
SELECT tenant, 0, users FROM scimkit_tenant_user_counts WHERE true
ON CONFLICT (tenant) DO UPDATE SET users = excluded.users;

DROP TRIGGER scimkit_users_count_insert;
DROP TRIGGER scimkit_users_count_delete;
DROP TABLE scimkit_tenant_user_counts;

-- A create takes its version from the counter row first, so the row is there.
CREATE TRIGGER scimkit_users_count_insert AFTER INSERT ON scimkit_users
BEGIN
    UPDATE scimkit_tenant_counters SET users = users + 1 WHERE tenant = NEW.tenant;
END;

CREATE TRIGGER scimkit_users_count_delete AFTER DELETE ON scimkit_users
BEGIN
    UPDATE scimkit_tenant_counters SET users = users - 1 WHERE tenant = OLD.tenant;
END;
