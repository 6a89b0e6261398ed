-- scimkit 0005: versions and list positions per tenant.
--
-- `meta.version` came from the database-wide sequence scimkit_user_version and the creation
-- order `seq` from an identity column, so a tenant watching its own ETags or cursors saw
-- the write activity of every other tenant. From now on both come from one counter per
-- tenant, bumped inside each write statement
-- (INSERT ... ON CONFLICT (tenant) DO UPDATE SET value = value + 1 RETURNING value): a
-- create takes one value for its version and its `seq`, a replace one for its version.
-- The counter row is locked until the write commits, so a tenant's values are handed out
-- in commit order, and keyset cursors never skip a row committed late.
--
-- No version is ever reused for a resource, and new rows sort after existing ones: every
-- counter starts above every value the database-wide counters ever handed out (`base`:
-- the counters' last values and the stored maxima). Existing tenants are seeded with it,
-- and it is the column's default for tenants that write for the first time.
CREATE TABLE scimkit_tenant_counters (
    tenant text   NOT NULL,
    -- the last version (or seq) handed out in this tenant
    value  bigint NOT NULL,
    CONSTRAINT scimkit_tenant_counters_pkey PRIMARY KEY (tenant)
);

DO $$
DECLARE
    base    bigint;
    seq_max bigint;
BEGIN
    EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM %s',
                   pg_get_serial_sequence('scimkit_users', 'seq'))
        INTO seq_max;
    SELECT GREATEST(
               (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM scimkit_user_version),
               seq_max,
               (SELECT COALESCE(MAX(seq), 0) FROM scimkit_users),
               (SELECT COALESCE(MAX(version), 0) FROM scimkit_users))
        INTO base;
    EXECUTE format('ALTER TABLE scimkit_tenant_counters ALTER COLUMN value SET DEFAULT %s',
                   base + 1);
    INSERT INTO scimkit_tenant_counters (tenant, value)
        SELECT tenant, base FROM scimkit_users GROUP BY tenant;
END $$;

-- `seq` is now written by the store, from the tenant's counter.
ALTER TABLE scimkit_users ALTER COLUMN seq DROP IDENTITY;
-- Nothing hands out database-wide versions any more (a writer of an older scimkit fails
-- loudly instead of handing out versions that may collide).
DROP SEQUENCE scimkit_user_version;
