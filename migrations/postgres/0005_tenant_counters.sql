-- scimkit 0005: versions and list positions per tenant.
--
-- `meta.version` came from the database-wide sequence scimkit_user_version and the creation
-- order `seq` from an identity column, so a tenant watching its own ETags or cursors saw
-- the write activity of every other tenant. From now on both come from one counter per
-- tenant: a store reserves a block of values at a time
-- (INSERT ... ON CONFLICT (tenant) DO UPDATE SET value = value + n RETURNING value, in a
-- statement of its own, committed at once) and hands them out to its writes, one for a
-- create's version and `seq`, one for a replace's version. Blocks, rather than a bump in
-- every write statement, keep a tenant's writes from committing one at a time behind the
-- counter's row lock.
--
-- No version is ever reused for a resource, and new rows sort after existing ones: every
-- counter starts above every value the database-wide counters ever handed out (`base`:
-- the counters' last values and the stored maxima), kept in scimkit_counter_base for
-- tenants that write for the first time.
CREATE TABLE scimkit_tenant_counters (
    tenant text   NOT NULL,
    -- the last value reserved in this tenant
    value  bigint NOT NULL,
    CONSTRAINT scimkit_tenant_counters_pkey PRIMARY KEY (tenant)
);

-- One row: the value every new tenant's counter starts from.
CREATE TABLE scimkit_counter_base (
    value bigint NOT NULL
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
    INSERT INTO scimkit_counter_base (value) VALUES (base);
    INSERT INTO scimkit_tenant_counters (tenant, value)
        SELECT tenant, base FROM scimkit_users GROUP BY tenant;
END $$;

-- `seq` is now written by the store, from the tenant's counter.
ALTER TABLE scimkit_users ALTER COLUMN seq DROP IDENTITY;
-- Nothing hands out database-wide versions any more (a writer of an older scimkit fails
-- loudly instead of handing out versions that may collide).
DROP SEQUENCE scimkit_user_version;
