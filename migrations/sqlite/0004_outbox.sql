-- scimkit 0004: the provisioning event outbox (SqliteUserStore::with_outbox).
-- Rows are written in the transaction of the user write they describe and deleted when
-- a dispatcher acknowledges them. AUTOINCREMENT: an id is never reused, not even after
-- every row was acknowledged (sinks deduplicate by it).
CREATE TABLE scimkit_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT    NOT NULL,
    key_id     TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    -- the EventKind as JSON: {"type": "userUpdated", "changed": [...]}
    kind       TEXT    NOT NULL,
    -- when the change was made, as (unix seconds, nanoseconds)
    time_s     INTEGER NOT NULL,
    time_ns    INTEGER NOT NULL
);
