-- scimkit 0008: the keys of the sort index and the email index in columns of their own,
-- written from Rust, so that an update of other attributes is a heap-only (HOT) update.
--
-- Until now both indexes were on expressions over `search` (the JSON document filters
-- read), which every update rewrites; PostgreSQL then wrote a new entry into every index
-- of the table (primary key, userName, externalId, order, emails, family name) for every
-- PATCH, since an update can stay heap-only only when no indexed column changes. Now
-- `family_name` is the folded `name.familyName` (as in `search`) and `emails` the
-- `emails` array of `search`, both NULL when absent. The table keeps a fifth of each
-- page free so that updated rows find room on their own page.
ALTER TABLE scimkit_users ADD COLUMN family_name TEXT, ADD COLUMN emails JSONB;
UPDATE scimkit_users SET
    family_name = (search -> 'name') ->> 'familyName',
    emails = search -> 'emails';

DROP INDEX scimkit_users_family_name;
CREATE INDEX scimkit_users_family_name
    ON scimkit_users (tenant, family_name COLLATE "C", seq);
DROP INDEX scimkit_users_emails;
CREATE INDEX scimkit_users_emails ON scimkit_users USING gin (emails jsonb_path_ops);

ALTER TABLE scimkit_users SET (fillfactor = 80);
