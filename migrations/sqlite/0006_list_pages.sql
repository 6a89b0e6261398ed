-- scimkit 0006: indexes for the sorted pages identity providers ask for
-- (`sortBy=name.familyName`, `name.givenName`, `displayName`), so that such a page reads
-- its rows in order from an index instead of extracting and sorting the key of every
-- user of the tenant. Each expression is the one the store's ORDER BY uses.
CREATE INDEX scimkit_users_family_name
    ON scimkit_users (tenant, json_extract(search, '$."name"."familyName"'), seq);
CREATE INDEX scimkit_users_given_name
    ON scimkit_users (tenant, json_extract(search, '$."name"."givenName"'), seq);
CREATE INDEX scimkit_users_display_name
    ON scimkit_users (tenant, json_extract(search, '$."displayName"'), seq);

-- The number of users of each tenant, kept by triggers in the transaction of each create
-- and delete: `totalResults` of an unfiltered list (an identity provider's import) is one
-- lookup, not a count of every row of the tenant.
CREATE TABLE scimkit_tenant_user_counts (
    tenant TEXT    PRIMARY KEY,
    users  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO scimkit_tenant_user_counts (tenant, users)
SELECT tenant, COUNT(*) FROM scimkit_users GROUP BY tenant;

CREATE TRIGGER scimkit_users_count_insert AFTER INSERT ON scimkit_users
BEGIN
    INSERT INTO scimkit_tenant_user_counts (tenant, users) VALUES (NEW.tenant, 1)
    ON CONFLICT (tenant) DO UPDATE SET users = users + 1;
END;

CREATE TRIGGER scimkit_users_count_delete AFTER DELETE ON scimkit_users
BEGIN
    UPDATE scimkit_tenant_user_counts SET users = users - 1 WHERE tenant = OLD.tenant;
END;
