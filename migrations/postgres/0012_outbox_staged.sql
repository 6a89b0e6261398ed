-- scimkit 0012: writes stage their events without waiting for each other; the reader
-- numbers them.
--
-- Until now, a write inserted its events into scimkit_outbox under a transaction-scoped
-- advisory lock held through its commit, so that ids increased in commit order: every
-- write with the outbox waited for the commits (and WAL flushes) of the others, one at a
-- time. Now a write stages its events here under the same lock taken SHARED (writers do
-- not wait for each other), and the reader (EventOutbox::pending_events) takes it
-- EXCLUSIVE: that waits until every write staging events has committed or rolled back,
-- then moves every staged row into scimkit_outbox in staging order (seq) and releases
-- it. A row staged later belongs to a write that took the lock after the reader, so it is
-- numbered after every row moved now.
CREATE TABLE scimkit_outbox_staged (
    seq        bigint  GENERATED ALWAYS AS IDENTITY,
    tenant     text    NOT NULL,
    key_id     text    NOT NULL,
    request_id text    NOT NULL,
    user_id    text    NOT NULL,
    user_name  text    NOT NULL,
    kind       jsonb   NOT NULL,
    time_s     bigint  NOT NULL,
    time_ns    bigint  NOT NULL,
    CONSTRAINT scimkit_outbox_staged_pkey PRIMARY KEY (seq)
);
