-- scimkit 0002: an index of email addresses (lower-cased), kept by triggers, so that
-- `emails.value eq "..."` is an index lookup.
CREATE TABLE scimkit_user_emails (
    user_seq INTEGER NOT NULL,
    tenant   TEXT    NOT NULL,
    value    TEXT    NOT NULL
);
CREATE INDEX scimkit_user_emails_value ON scimkit_user_emails (tenant, value);
CREATE INDEX scimkit_user_emails_user ON scimkit_user_emails (user_seq);

CREATE TRIGGER scimkit_users_emails_insert AFTER INSERT ON scimkit_users
BEGIN
    INSERT INTO scimkit_user_emails (user_seq, tenant, value)
    SELECT NEW.seq, NEW.tenant, json_extract(e.value, '$.value')
    FROM json_each(NEW.search, '$.emails') AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;

CREATE TRIGGER scimkit_users_emails_update AFTER UPDATE OF search ON scimkit_users
BEGIN
    DELETE FROM scimkit_user_emails WHERE user_seq = OLD.seq;
    INSERT INTO scimkit_user_emails (user_seq, tenant, value)
    SELECT NEW.seq, NEW.tenant, json_extract(e.value, '$.value')
    FROM json_each(NEW.search, '$.emails') AS e
    WHERE json_type(e.value, '$.value') = 'text';
END;

CREATE TRIGGER scimkit_users_emails_delete AFTER DELETE ON scimkit_users
BEGIN
    DELETE FROM scimkit_user_emails WHERE user_seq = OLD.seq;
END;

-- Users stored before this migration.
INSERT INTO scimkit_user_emails (user_seq, tenant, value)
SELECT u.seq, u.tenant, json_extract(e.value, '$.value')
FROM scimkit_users AS u, json_each(u.search, '$.emails') AS e
WHERE json_type(e.value, '$.value') = 'text';
