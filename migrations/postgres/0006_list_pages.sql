-- scimkit 0006: indexes for the sorted pages identity providers ask for
-- (`sortBy=name.familyName`, `name.givenName`, `displayName`), so that such a page reads
-- its rows in order from an index instead of extracting and sorting the key of every
-- user of the tenant. Each expression, with its collation, is the one the store's
-- ORDER BY uses (ascending, NULLS LAST: a B-tree's default).
CREATE INDEX scimkit_users_family_name
    ON scimkit_users (tenant, ((search -> 'name') ->> 'familyName') COLLATE "C", seq);
CREATE INDEX scimkit_users_given_name
    ON scimkit_users (tenant, ((search -> 'name') ->> 'givenName') COLLATE "C", seq);
CREATE INDEX scimkit_users_display_name
    ON scimkit_users (tenant, (search ->> 'displayName') COLLATE "C", seq);
