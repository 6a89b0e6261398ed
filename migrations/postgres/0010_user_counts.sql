-- scimkit 0010: the number of users of each tenant kept by triggers, so that the total of
-- an unfiltered list page (an identity provider's import: `startIndex`/`count`, a
-- cursor, a sort) is a sum of a few small rows instead of a `COUNT(*)` that visits every
-- row of the tenant (the whole, wide heap: an index-only count needs a visibility map
-- that a freshly written table does not have).
--
-- One row per tenant and slot; a write counts in the slot of its server process
-- (`pg_backend_pid() % 64`). A row is locked from a create or delete until its commit;
-- with one counter row per tenant every create of a tenant would wait for the commit of
-- the one before (the reason versions are reserved in blocks, 0005), while connections
-- in different slots never wait for each other. A slot's count may be negative (users
-- created by one process and deleted by another); the tenant's total is the sum of its
-- slots, read in the same snapshot as the page it is the total of.
CREATE TABLE scimkit_user_counts (
    tenant text    NOT NULL,
    slot   integer NOT NULL,
    users  bigint  NOT NULL,
    CONSTRAINT scimkit_user_counts_pkey PRIMARY KEY (tenant, slot)
);

-- The function names the table with its schema (this migration's), so that it counts
-- whatever the `search_path` of the session that writes a user.
DO $migration$
BEGIN
    EXECUTE format($function$
        CREATE FUNCTION scimkit_count_users() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO %1$I.scimkit_user_counts AS c (tenant, slot, users)
                VALUES (NEW.tenant, pg_backend_pid() %% 64, 1)
                ON CONFLICT (tenant, slot) DO UPDATE SET users = c.users + 1;
            ELSE
                INSERT INTO %1$I.scimkit_user_counts AS c (tenant, slot, users)
                VALUES (OLD.tenant, pg_backend_pid() %% 64, -1)
                ON CONFLICT (tenant, slot) DO UPDATE SET users = c.users - 1;
            END IF;
            RETURN NULL;
        END $body$
    $function$, current_schema());
    EXECUTE format($function$
        CREATE FUNCTION scimkit_forget_user_counts() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            DELETE FROM %1$I.scimkit_user_counts;
            RETURN NULL;
        END $body$
    $function$, current_schema());
END $migration$;

-- The trigger first: creating it locks out writers (of this or an older scimkit) until
-- this migration commits, so the count below misses none of their rows.
CREATE TRIGGER scimkit_users_count AFTER INSERT OR DELETE ON scimkit_users
    FOR EACH ROW EXECUTE FUNCTION scimkit_count_users();
-- TRUNCATE fires no row trigger: it empties the counts with the table.
CREATE TRIGGER scimkit_users_truncate AFTER TRUNCATE ON scimkit_users
    FOR EACH STATEMENT EXECUTE FUNCTION scimkit_forget_user_counts();

INSERT INTO scimkit_user_counts (tenant, slot, users)
    SELECT tenant, 0, COUNT(*) FROM scimkit_users GROUP BY tenant;
