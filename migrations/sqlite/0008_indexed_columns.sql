-- scimkit 0008: the keys of the sort index and the email index in columns of their own,
-- written from Rust, so that an update that keeps them writes neither index.
--
-- Until now both were computed inside SQLite from `search` (the JSON document filters
-- read), which every update rewrites: the family-name index was an index on
-- `json_extract(search, ...)` (its entry deleted and inserted again by every update, each
-- paying two parses of the document), and the email rows were refreshed by a trigger on
-- `search` guarded by two more parses. Now `family_name` is the folded
-- `name.familyName` (as in `search`) and `emails` the `emails` array of `search` (JSON
-- text), both NULL when absent; an update leaves them out of its `SET` list when they
-- did not change, so neither the index nor the trigger runs.
ALTER TABLE scimkit_users ADD COLUMN family_name TEXT;
ALTER TABLE scimkit_users ADD COLUMN emails TEXT;
UPDATE scimkit_users SET
    family_name = json_extract(search, '$."name"."familyName"'),
    emails = json_extract(search, '$."emails"');

DROP INDEX scimkit_users_family_name;
CREATE INDEX scimkit_users_family_name ON scimkit_users (tenant, family_name, seq);

DROP TRIGGER scimkit_users_emails_insert;
DROP TRIGGER scimkit_users_emails_update;

-- A user listing one address twice (in any case) has one row for it.
CREATE TRIGGER scimkit_users_emails_insert AFTER INSERT ON scimkit_users
WHEN NEW.emails IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO scimkit_user_emails (tenant, value, user_seq)
    SELECT NEW.tenant, json_extract(e.value, '$.value'), NEW.seq
    FROM json_each(NEW.emails) AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;

CREATE TRIGGER scimkit_users_emails_update AFTER UPDATE OF emails ON scimkit_users
WHEN OLD.emails IS NOT NEW.emails
BEGIN
    DELETE FROM scimkit_user_emails WHERE tenant = OLD.tenant AND user_seq = OLD.seq;
    INSERT OR IGNORE INTO scimkit_user_emails (tenant, value, user_seq)
    SELECT NEW.tenant, json_extract(e.value, '$.value'), NEW.seq
    FROM json_each(NEW.emails) AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;
