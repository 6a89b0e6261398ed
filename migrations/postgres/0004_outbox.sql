-- scimkit 0004: the provisioning event outbox (PostgresUserStore::with_outbox).
-- Rows are written in the transaction of the user write they describe, under a
-- transaction-scoped advisory lock, so ids increase in commit order; they are deleted
-- when a dispatcher acknowledges them. Ids are never reused.
CREATE TABLE scimkit_outbox (
    id         bigint  GENERATED ALWAYS AS IDENTITY,
    tenant     text    NOT NULL,
    key_id     text    NOT NULL,
    request_id text    NOT NULL,
    user_id    text    NOT NULL,
    user_name  text    NOT NULL,
    -- the EventKind: {"type": "userUpdated", "changed": [...]}
    kind       jsonb   NOT NULL,
    -- when the change was made, as (unix seconds, nanoseconds)
    time_s     bigint  NOT NULL,
    time_ns    bigint  NOT NULL,
    CONSTRAINT scimkit_outbox_pkey PRIMARY KEY (id)
);
