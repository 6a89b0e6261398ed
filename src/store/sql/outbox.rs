//! The provisioning event outbox of the SQL user stores (`scimkit_outbox`).
//!
//! A store built `with_outbox()` writes the events of each create, replace and delete
//! ([`events::events_for`], [`events::record`]) in the transaction of the write itself,
//! so a row exists exactly when its change was committed. `pending_events` reads the
//! oldest rows by id, `acknowledge_events` deletes a prefix.
//!
//! # Ids in commit order
//!
//! The dispatcher acknowledges "everything up to id N", so no row with a smaller id may
//! become visible after a row with a larger one was read: ids must increase in the order
//! rows become visible. SQLite has one writer at a time, so its `AUTOINCREMENT` ids do.
//!
//! On PostgreSQL, transactions take sequence values in one order and may commit in
//! another, so a write does not number its events: it stages them in
//! `scimkit_outbox_staged` (migration 0012), in the statement or transaction of the write,
//! under a transaction-scoped advisory lock ([`OUTBOX_LOCK`]) taken *shared* — writers do
//! not wait for each other, and commit (and flush the WAL) together. The reader numbers
//! them ([`pending_postgres`]): it takes the lock *exclusive*, which waits until every
//! write staging events has committed or rolled back (and holds new ones back for the
//! moment it takes), moves every staged row into `scimkit_outbox` in staging order, and
//! releases it. A row staged later belongs to a write that took the lock after the
//! reader, so it is numbered after every row moved now. Staging order follows commit
//! order where it matters: a write's events are staged after its user row is written,
//! so a later write of the same user (which waits for the earlier one's commit, or
//! compare-and-swaps over it) stages its events after the earlier one's.
//!
//! Until migration 0012 writers inserted into `scimkit_outbox` themselves, under the lock
//! taken exclusive and held through their commit, which serialized every write with the
//! outbox: about 2,000 commits/s on the machine of BENCHMARKS.md, against about 12,000
//! without the lock (pgbench, 16 clients).

use chrono::{DateTime, Utc};

#[cfg(feature = "postgres")]
use super::driver::PgQuery;
#[cfg(feature = "sqlite")]
use super::driver::{Arg, sqlite_all};
use super::driver::{ReadRow, Statement};
#[cfg(feature = "postgres")]
use super::map_db_error;
use super::{backend_msg, to_i64};
use crate::events::{self, EventKind, ProvisioningEvent};
use crate::resource::User;
use crate::store::{RequestContext, StoreError};

/// Key of the PostgreSQL advisory lock that orders outbox ids by commit.
#[cfg(feature = "postgres")]
pub(super) const OUTBOX_LOCK: i64 = 0x5c13_6b17_0002;

/// The columns of an outbox row, in the order of the `INSERT`s below.
macro_rules! columns {
    () => {
        "tenant, key_id, request_id, user_id, user_name, kind, time_s, time_ns"
    };
}

/// The oldest `?1` events, in the order [`read_event`] reads them (`kind` as text).
static PENDING: Statement = Statement::new(
    "SELECT id, tenant, key_id, request_id, user_id, user_name, CAST(kind AS TEXT) AS kind, \
     time_s, time_ns FROM scimkit_outbox ORDER BY id LIMIT ?1",
);

/// Deletes the events up to id `?1`.
static ACKNOWLEDGE: Statement = Statement::new("DELETE FROM scimkit_outbox WHERE id <= ?1");

/// Inserts one event row: `?1`..`?8` the columns of [`NewRow::args`].
#[cfg(feature = "sqlite")]
static INSERT: Statement = Statement::new(concat!(
    "INSERT INTO scimkit_outbox (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
));

/// One row to insert.
#[derive(Debug)]
pub(super) struct NewRow {
    tenant: String,
    key_id: String,
    request_id: String,
    /// The user's or group's id (column `user_id`).
    resource_id: String,
    /// Its `userName` or `displayName` (column `user_name`).
    resource_name: String,
    kind: String,
    time_s: i64,
    time_ns: i64,
}

#[cfg(feature = "sqlite")]
impl NewRow {
    /// The values of [`INSERT`], in order.
    fn args(&self) -> [Arg<'_>; 8] {
        [
            Arg::text(&self.tenant),
            Arg::text(&self.key_id),
            Arg::text(&self.request_id),
            Arg::text(&self.resource_id),
            Arg::text(&self.resource_name),
            Arg::text(&self.kind),
            Arg::int(self.time_s),
            Arg::int(self.time_ns),
        ]
    }
}

/// The user as the outbox sees it after a write: as stored (without an empty
/// Enterprise extension), with the `password` it carried (listed by name only). Its
/// version is left at 0: events never compare `meta`.
pub(super) fn as_written(user: &User) -> User {
    let mut written = super::encode::as_stored(user.clone(), 0);
    written.password.clone_from(&user.password);
    written
}

/// The rows for a write from `before` (`None` for a create) to `after` (`None` for a
/// delete): none when the write changes nothing.
pub(super) fn rows_for(
    ctx: &RequestContext,
    before: Option<&User>,
    after: Option<&User>,
) -> Result<Vec<NewRow>, StoreError> {
    let kinds = events::events_for(before, after);
    let Some(user) = after.or(before) else {
        return Ok(Vec::new());
    };
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    // The database assigns the ids.
    new_rows(events::record(ctx, kinds, user, || 0))
}

/// The rows of the events `kinds` of a write of group `id` named `name` (from
/// [`events::group_events_for`]).
pub(super) fn group_rows(
    ctx: &RequestContext,
    kinds: Vec<EventKind>,
    id: &str,
    name: &str,
) -> Result<Vec<NewRow>, StoreError> {
    new_rows(events::record_of(ctx, kinds, id, name, || 0))
}

/// The rows of `events` (their ids left to the database).
fn new_rows(events: Vec<ProvisioningEvent>) -> Result<Vec<NewRow>, StoreError> {
    events
        .into_iter()
        .map(|e| {
            let (time_s, time_ns) = split_instant(&e.time);
            Ok(NewRow {
                kind: serde_json::to_string(&e.kind).map_err(StoreError::backend)?,
                tenant: e.tenant,
                key_id: e.key_id,
                request_id: e.request_id,
                resource_id: e.resource_id,
                resource_name: e.resource_name,
                time_s,
                time_ns,
            })
        })
        .collect()
}

/// An instant as (unix seconds, nanoseconds).
pub(super) fn split_instant(t: &DateTime<Utc>) -> (i64, i64) {
    (t.timestamp(), i64::from(t.timestamp_subsec_nanos()))
}

/// An instant read back from (unix seconds, nanoseconds).
pub(super) fn join_instant(s: i64, ns: i64) -> Result<DateTime<Utc>, StoreError> {
    u32::try_from(ns)
        .ok()
        .and_then(|ns| DateTime::from_timestamp(s, ns))
        .ok_or_else(|| backend_msg(format!("stored instant ({s}, {ns}) is out of range")))
}

/// [`EventKind`] from its JSON form (as `serde` writes it; PostgreSQL's `jsonb` text
/// of it reads the same).
pub(super) fn kind_from_json(text: &str) -> Result<EventKind, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| backend_msg(format!("unreadable stored event kind {text}: {e}")))
}

/// The highest id to delete for `acknowledge_events(through)`.
pub(super) fn through_id(through: u64) -> i64 {
    i64::try_from(through).unwrap_or(i64::MAX)
}

/// Reads an outbox row of [`PENDING`]: its id, kind and time checked.
fn read_event(row: &impl ReadRow) -> Result<ProvisioningEvent, StoreError> {
    let id = row.int(0)?;
    Ok(ProvisioningEvent {
        id: u64::try_from(id).map_err(|_| backend_msg(format!("negative outbox id {id}")))?,
        tenant: row.text(1)?.to_owned(),
        key_id: row.text(2)?.to_owned(),
        request_id: row.text(3)?.to_owned(),
        resource_id: row.text(4)?.to_owned(),
        resource_name: row.text(5)?.to_owned(),
        kind: kind_from_json(row.text(6)?)?,
        time: join_instant(row.int(7)?, row.int(8)?)?,
    })
}

/// Inserts `rows` in the current SQLite write transaction.
#[cfg(feature = "sqlite")]
pub(super) fn insert_sqlite(
    conn: &rusqlite::Connection,
    rows: &[NewRow],
) -> Result<(), StoreError> {
    use super::driver::map_error;
    if rows.is_empty() {
        return Ok(());
    }
    let mut st = conn.prepare_cached(INSERT.sqlite()).map_err(map_error)?;
    for r in rows {
        st.execute(r.args()).map_err(map_error)?;
    }
    Ok(())
}

/// The oldest `limit` events of a SQLite outbox.
#[cfg(feature = "sqlite")]
pub(super) fn pending_sqlite(
    conn: &rusqlite::Connection,
    limit: usize,
) -> Result<Vec<ProvisioningEvent>, StoreError> {
    sqlite_all(conn, PENDING.sqlite(), [to_i64(limit)], |r| read_event(r))
}

/// Deletes the events up to id `through` from a SQLite outbox (in a write transaction).
#[cfg(feature = "sqlite")]
pub(super) fn acknowledge_sqlite(
    conn: &rusqlite::Connection,
    through: u64,
) -> Result<(), StoreError> {
    conn.prepare_cached(ACKNOWLEDGE.sqlite())
        .and_then(|mut st| st.execute([through_id(through)]))
        .map_err(super::driver::map_error)?;
    Ok(())
}

/// A common table expression `o` that stages the rows bound by [`bind_postgres_rows`]
/// (as arrays, parameters `$first` to `$first + 7`; with [`Staged::One`], as eight
/// values) under [`OUTBOX_LOCK`] taken shared, if the table expression `written` (the
/// user write of the same statement) has a row. With it, a write and its events are one
/// statement: one round trip, one transaction. (A write staging nothing has no `o`.)
#[cfg(feature = "postgres")]
pub(super) fn postgres_rows_cte(staged: Staged, first: usize, written: &str) -> String {
    match staged {
        Staged::One => format!("o AS ({})", postgres_insert_one(first, written)),
        Staged::None | Staged::Many => {
            let only_if = format!("(SELECT 1 FROM {written} LIMIT 1) AS w, ");
            format!("o AS ({})", postgres_insert(first, &only_if))
        }
    }
}

/// How many events a write stages, which decides the shape of its statement: none (no
/// common table expression), one (its eight values bound as they are: the common case, a
/// create's or an update's event) or several (bound as eight arrays and unnested: for one
/// row, that cost PostgreSQL 10 to 40 µs more per statement in pgbench, in array parsing,
/// a function scan with its tuplestore, and their executor start-up).
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Staged {
    None,
    One,
    Many,
}

#[cfg(feature = "postgres")]
impl Staged {
    /// The shape for `rows`.
    pub(super) fn of(rows: &[NewRow]) -> Self {
        match rows.len() {
            0 => Self::None,
            1 => Self::One,
            _ => Self::Many,
        }
    }
}

/// The `INSERT` staging the one row bound from `$first` (eight values, see
/// [`bind_postgres_rows`]) under [`OUTBOX_LOCK`] taken shared, once per row of the table
/// expression `written` (a user write by primary key: at most one row).
///
/// The lock is taken by the filter on the row of `written` (the function is volatile, so
/// it is evaluated for each row read, never once up front): only when the user row was
/// written, and before its event is staged. Its value is `void`, which is never NULL.
/// This costs PostgreSQL about 12 µs less per statement than a join with
/// `(SELECT lock) AS l` and `(SELECT 1 FROM written LIMIT 1) AS w` (pgbench, the
/// replace statement).
#[cfg(feature = "postgres")]
fn postgres_insert_one(first: usize, written: &str) -> String {
    let values: Vec<String> = [
        "text", "text", "text", "text", "text", "jsonb", "bigint", "bigint",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| format!("${}::{t}", first + i))
    .collect();
    format!(
        "INSERT INTO scimkit_outbox_staged ({cols}) SELECT {} \
         FROM {written} WHERE pg_advisory_xact_lock_shared({OUTBOX_LOCK}) IS NOT NULL",
        values.join(", "),
        cols = columns!(),
    )
}

/// The `INSERT` staging the rows bound from `$first` under [`OUTBOX_LOCK`] taken shared,
/// its `FROM` list starting with `from` (a condition's table, or nothing).
#[cfg(feature = "postgres")]
fn postgres_insert(first: usize, from: &str) -> String {
    let arrays: Vec<String> = [
        "text", "text", "text", "text", "text", "text", "bigint", "bigint",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| format!("${}::{t}[]", first + i))
    .collect();
    format!(
        "INSERT INTO scimkit_outbox_staged ({cols}) \
         SELECT e.tenant, e.key_id, e.request_id, e.user_id, e.user_name, e.kind::jsonb, \
         e.time_s, e.time_ns \
         FROM {from}(SELECT pg_advisory_xact_lock_shared({OUTBOX_LOCK})) AS l, \
         unnest({}) AS e(tenant, key_id, request_id, user_id, user_name, kind, time_s, time_ns)",
        arrays.join(", "),
        cols = columns!(),
    )
}

/// The statement that stages the rows bound by [`bind_postgres_arrays`] (parameters `$1`
/// to `$8`), for a write of several statements (a group's), in its transaction.
#[cfg(feature = "postgres")]
pub(super) fn postgres_insert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| postgres_insert(1, ""))
}

/// Binds `rows` as the parameters of [`postgres_rows_cte`]: the eight values of the row
/// when there is one ([`Staged::One`]), eight arrays otherwise.
#[cfg(feature = "postgres")]
pub(super) fn bind_postgres_rows<'q>(q: PgQuery<'q>, rows: &[NewRow]) -> PgQuery<'q> {
    if let [r] = rows {
        return q
            .bind(r.tenant.clone())
            .bind(r.key_id.clone())
            .bind(r.request_id.clone())
            .bind(r.resource_id.clone())
            .bind(r.resource_name.clone())
            .bind(r.kind.clone())
            .bind(r.time_s)
            .bind(r.time_ns);
    }
    bind_postgres_arrays(q, rows)
}

/// Binds `rows` as the eight arrays of [`postgres_insert_sql`] (and of
/// [`postgres_rows_cte`] with [`Staged::Many`]).
#[cfg(feature = "postgres")]
pub(super) fn bind_postgres_arrays<'q>(q: PgQuery<'q>, rows: &[NewRow]) -> PgQuery<'q> {
    let text = |f: fn(&NewRow) -> &str| rows.iter().map(|r| f(r).to_owned()).collect::<Vec<_>>();
    q.bind(text(|r| &r.tenant))
        .bind(text(|r| &r.key_id))
        .bind(text(|r| &r.request_id))
        .bind(text(|r| &r.resource_id))
        .bind(text(|r| &r.resource_name))
        .bind(text(|r| &r.kind))
        .bind(rows.iter().map(|r| r.time_s).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.time_ns).collect::<Vec<_>>())
}

/// A common table expression `o` that stages the `userDeleted` event of the row the
/// table expression `deleted` returns (columns `id`, `user_name`), under [`OUTBOX_LOCK`]
/// taken shared: parameters `$first`
/// (tenant), then key id, request id, kind and time (s, ns), bound by
/// [`bind_postgres_deleted`]. The event is the one [`rows_for`] gives for a delete.
#[cfg(feature = "postgres")]
pub(super) fn postgres_deleted_cte(first: usize, deleted: &str) -> String {
    let [tenant, key, request, kind, s, ns] = [0, 1, 2, 3, 4, 5].map(|i| format!("${}", first + i));
    format!(
        "o AS (INSERT INTO scimkit_outbox_staged ({cols}) \
         SELECT {tenant}, {key}, {request}, d.id, d.user_name, {kind}::jsonb, {s}, {ns} \
         FROM {deleted} AS d, (SELECT pg_advisory_xact_lock_shared({OUTBOX_LOCK})) AS l)",
        cols = columns!(),
    )
}

/// Binds the parameters of [`postgres_deleted_cte`] for a delete made by `ctx` now.
#[cfg(feature = "postgres")]
pub(super) fn bind_postgres_deleted<'q>(
    q: PgQuery<'q>,
    ctx: &'q RequestContext,
) -> Result<PgQuery<'q>, StoreError> {
    let kind = serde_json::to_string(&EventKind::UserDeleted).map_err(StoreError::backend)?;
    let (time_s, time_ns) = split_instant(&Utc::now());
    Ok(q.bind(&*ctx.tenant)
        .bind(&*ctx.key_id)
        .bind(ctx.request_id.as_str())
        .bind(kind)
        .bind(time_s)
        .bind(time_ns))
}

/// Moves the `$1` first staged events into `scimkit_outbox`, numbered in staging order.
/// Run under [`OUTBOX_LOCK`] taken exclusive, in the reader's transaction. The rows left
/// for a later move were staged (and committed) before any staged after this move, so
/// they are numbered before those.
#[cfg(feature = "postgres")]
const SEQUENCE: &str = concat!(
    "WITH moved AS (DELETE FROM scimkit_outbox_staged WHERE seq IN \
     (SELECT seq FROM scimkit_outbox_staged ORDER BY seq LIMIT $1) RETURNING seq, ",
    columns!(),
    ") INSERT INTO scimkit_outbox (",
    columns!(),
    ") SELECT ",
    columns!(),
    " FROM moved ORDER BY seq"
);

/// The most staged events one move numbers (the lock held exclusive, so the writes that
/// stage events wait, for at most that many rows).
#[cfg(feature = "postgres")]
const MOVE_AT_MOST: usize = 10_000;

/// The oldest `limit` events of a PostgreSQL outbox, after numbering staged ones (see the
/// module's documentation). When some are staged, the numbering holds [`OUTBOX_LOCK`]
/// exclusive for one statement (moving at most [`MOVE_AT_MOST`] rows) and its commit; when
/// none are, it takes no lock (a row not visible yet is numbered by a later move, after
/// every id there is now). The read takes no lock.
#[cfg(feature = "postgres")]
pub(super) async fn pending_postgres(
    pool: &sqlx::PgPool,
    limit: usize,
) -> Result<Vec<ProvisioningEvent>, StoreError> {
    let staged: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM scimkit_outbox_staged)")
        .fetch_one(pool)
        .await
        .map_err(map_db_error)?;
    if staged {
        let mut tx = pool.begin().await.map_err(map_db_error)?;
        // READ COMMITTED whatever the server's default: the move's snapshot is taken after
        // the lock is granted, so it sees every write the lock waited for.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .execute(&mut *tx)
            .await
            .map_err(map_db_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(OUTBOX_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(map_db_error)?;
        sqlx::query(SEQUENCE)
            .bind(to_i64(limit.clamp(1, MOVE_AT_MOST)))
            .execute(&mut *tx)
            .await
            .map_err(map_db_error)?;
        tx.commit().await.map_err(map_db_error)?;
    }
    let rows = sqlx::query(PENDING.postgres())
        .bind(to_i64(limit))
        .fetch_all(pool)
        .await
        .map_err(map_db_error)?;
    rows.iter().map(read_event).collect()
}

/// Deletes the events up to id `through` from a PostgreSQL outbox.
#[cfg(feature = "postgres")]
pub(super) async fn acknowledge_postgres(
    pool: &sqlx::PgPool,
    through: u64,
) -> Result<(), StoreError> {
    sqlx::query(ACKNOWLEDGE.postgres())
        .bind(through_id(through))
        .execute(pool)
        .await
        .map_err(map_db_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn every_kind_reads_back_as_written() {
        for kind in [
            EventKind::UserCreated,
            EventKind::UserUpdated {
                changed: vec!["name.givenName".into(), "title".into()],
            },
            EventKind::UserUpdated { changed: vec![] },
            EventKind::UserDeactivated,
            EventKind::UserReactivated,
            EventKind::UserDeleted,
            EventKind::GroupCreated,
            EventKind::GroupUpdated {
                changed: vec!["displayName".into()],
            },
            EventKind::GroupMembersChanged {
                joined: vec!["u1".into()],
                left: vec!["u2".into(), "u3".into()],
            },
            EventKind::GroupDeleted,
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(kind_from_json(&json).unwrap(), kind, "{json}");
        }
        for bad in [
            "{}",
            r#"{"type": "userExploded"}"#,
            r#"{"type": "userUpdated"}"#,
            r#"{"type": "userUpdated", "changed": [1]}"#,
            "not json",
        ] {
            assert!(kind_from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instants_round_trip_exactly() {
        for t in [
            Utc::now(),
            DateTime::from_timestamp(-1, 999_999_999).unwrap(),
            DateTime::from_timestamp(253_402_300_800, 1).unwrap(), // year 10000
        ] {
            let (s, ns) = split_instant(&t);
            assert_eq!(join_instant(s, ns).unwrap(), t);
        }
        assert!(join_instant(0, -1).is_err());
        assert!(join_instant(i64::MAX, 0).is_err());
        assert_eq!(through_id(u64::MAX), i64::MAX);
    }

    #[test]
    fn rows_come_from_events_for() {
        let ctx = RequestContext::new(crate::Principal::new("t", "k"), "req-1");
        let mut a = User::new("a");
        a.id = Some("id-a".into());
        let created = rows_for(&ctx, None, Some(&a)).unwrap();
        assert_eq!(created.len(), 1);
        assert_eq!(
            (created[0].tenant.as_str(), created[0].key_id.as_str()),
            ("t", "k")
        );
        assert_eq!(created[0].request_id, "req-1");
        assert_eq!(created[0].resource_id, "id-a");
        assert!(rows_for(&ctx, Some(&a), Some(&a)).unwrap().is_empty());
        let mut b = a.clone();
        b.active = Some(false);
        let kinds: Vec<_> = rows_for(&ctx, Some(&a), Some(&b))
            .unwrap()
            .iter()
            .map(|r| kind_from_json(&r.kind).unwrap())
            .collect();
        assert_eq!(kinds, events::events_for(Some(&a), Some(&b)));
        let deleted = rows_for(&ctx, Some(&a), None).unwrap();
        assert_eq!(deleted[0].resource_name, "a");
    }
}
