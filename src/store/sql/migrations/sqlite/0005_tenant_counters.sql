-- scimkit 0005: versions per tenant, so that meta.version reveals nothing about the
-- writes of other tenants.
-- One row per tenant, bumped in the transaction of each write of its users.
CREATE TABLE scimkit_tenant_counters (
    tenant TEXT    PRIMARY KEY,
    value  INTEGER NOT NULL
) WITHOUT ROWID;

-- A version is never reused for a resource: every tenant known so far starts where the
-- database-wide counter (no longer used) stopped, above every version it handed out.
-- A tenant first written after this migration starts at 1.
INSERT INTO scimkit_tenant_counters (tenant, value)
SELECT t.tenant, (SELECT value FROM scimkit_counters WHERE name = 'user_version')
FROM (
    SELECT tenant FROM scimkit_users
    UNION SELECT id FROM scimkit_tenants
    UNION SELECT tenant FROM scimkit_api_keys
    UNION SELECT tenant FROM scimkit_outbox
) AS t;
