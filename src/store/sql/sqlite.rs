//! [`SqliteUserStore`]: users in one SQLite file, on [`SqliteDatabase`] (rusqlite, bundled
//! SQLite): reads inline on a pool of read connections, writes group-committed by one
//! writer.

use std::sync::{Arc, OnceLock};

use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::driver::{Arg, Param, ReadRow, map_error, sqlite_all, sqlite_one};
use super::encode::{
    EncodedUser, WRITE_PARAMS, as_stored, decode, email_values, encode, missed, once_each,
};
use super::filter_sql::Dialect;
use super::list_sql::{CountStatement, FetchedPage, SqlPlan, at_most_one, page_tells_total};
use super::outbox::{self, NewRow, as_written};
use super::sqlite_db::{SqliteDatabase, exec_cached};
use super::user_rows::{EXISTS, GET, GET_UNLESS_KEPT, row_columns, sql_user_store};
use super::{DEFAULT_FALLBACK_LIMIT, Result, to_usize};
use crate::events::ProvisioningEvent;
use crate::list::{ListPage, ListQuery};
use crate::resource::User;
use crate::store::{RequestContext, StoreError, UserStore};

/// A [`UserStore`] in SQLite: one file (WAL mode), or memory for tests.
///
/// Several processes may open the same file: uniqueness, compare-and-swap and versions
/// are enforced by the database, with the contract of the [`crate::store`] module.
///
/// # Speed
///
/// Built on [`SqliteDatabase`]: a read runs inline on the calling task, on one of a small
/// pool of read connections, with cached prepared statements (no thread hop, no channel);
/// writes go through one writer connection (a writer thread for a file) that commits all
/// the writes waiting at that moment in one transaction (group commit), each in its own
/// savepoint and answered with its own result. What a committed write survives is set by
/// [`Durability`](super::Durability). Users read are kept decoded by (row, version), so a
/// page or a GET of an unchanged user does not parse its JSON again; `totalResults` of an
/// unfiltered list is a per-tenant count kept with every create and delete; pages sorted by
/// `name.familyName` are read in order from an index (other sort keys sort the matching
/// rows: an index per key would cost every write).
///
/// # What it keeps
///
#[doc = include_str!("docs/uniqueness.md")]
/// - **Compare-and-swap**: `replace`/`delete` with an expected version are one
///   `UPDATE`/`DELETE ... WHERE tenant = ? AND id = ? AND version = ?`. Versions come from
///   a counter **per tenant** (`scimkit_tenant_counters`; `meta.version` is `W/"<n>"`), so
///   a version reveals nothing about other tenants' writes, and none is ever reused for a
///   resource, not even after a delete and a re-create with the same id.
#[doc = include_str!("docs/tenants_and_filters.md")]
/// - **Migrations** ship in the crate, run when the database is opened (or by
///   [`SqliteDatabase::migrate`]), each in one transaction, recorded in
///   `scimkit_schema_migrations`; running them again is a no-op, and a database made by
///   an older version is upgraded in place.
///
#[doc = include_str!("docs/not_stored.md")]
/// ```
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::store::SqliteUserStore;
/// let store = SqliteUserStore::open("/tmp/scimkit-doc-example.db").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteUserStore {
    db: SqliteDatabase,
    fallback_limit: usize,
    /// Whether writes record provisioning events in `scimkit_outbox`.
    outbox: bool,
}

sqlite_constructors!(SqliteUserStore);

impl SqliteUserStore {
    /// A store over `db` (already migrated when opened). Other SQLite stores of scimkit
    /// can share it: clones of a [`SqliteDatabase`] share its connections.
    pub fn new(db: SqliteDatabase) -> Self {
        Self {
            db,
            fallback_limit: DEFAULT_FALLBACK_LIMIT,
            outbox: false,
        }
    }

    /// The latest schema version this version of scimkit knows.
    pub fn latest_schema_version() -> i64 {
        SqliteDatabase::latest_schema_version()
    }

    #[doc = include_str!("docs/outbox.md")]
    ///
    /// Event ids increase in commit order (SQLite has one writer at a time) and are never
    /// reused. [`EventOutbox::pending_events`](crate::events::EventOutbox::pending_events) reads the outbox of the database, whichever
    /// process wrote it, so a store without the outbox may dispatch it too. Run **one**
    /// dispatcher per database: two would each deliver the same events (delivery is at
    /// least once either way; sinks deduplicate by
    /// [`ProvisioningEvent::id`](crate::events::ProvisioningEvent::id)).
    #[must_use]
    pub fn with_outbox(mut self) -> Self {
        self.outbox = true;
        self
    }

    /// Whether writes record events (for the group store of the same database).
    pub(super) fn outbox_on(&self) -> bool {
        self.outbox
    }
}

/// Inserts a row: parameters 1 to [`WRITE_PARAMS`] of [`EncodedUser::write_args`], its
/// version also its creation order `seq`.
fn insert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let values: Vec<String> = (1..=WRITE_PARAMS).map(|n| format!("?{n}")).collect();
        format!(
            "INSERT INTO scimkit_users (tenant, id, version, {}, seq) VALUES ({}, ?3)",
            row_columns!(),
            values.join(", ")
        )
    })
}

/// Indexed columns a replace leaves as they are, known when the user before the write
/// is: an `UPDATE` that does not set an indexed column leaves its index alone (one B-tree
/// page fewer to write for each), and one that does not set `emails` leaves the email
/// rows alone (no read of the addresses before it).
#[derive(Clone, Copy, Default)]
struct Kept {
    /// `user_name` and `user_name_lower`.
    user_name: bool,
    external_id: bool,
    family_name: bool,
    emails: bool,
}

impl Kept {
    /// What `after` keeps of `before` (by the typed values: equal values encode alike).
    fn of(before: &User, after: &User) -> Self {
        let family = |u: &User| u.name.as_ref().and_then(|n| n.family_name.clone());
        Self {
            user_name: before.user_name == after.user_name,
            external_id: before.external_id == after.external_id,
            family_name: family(before) == family(after),
            emails: before.emails == after.emails,
        }
    }

    /// Which of the columns of `row_columns!` are kept (a bit each, in `Kept`'s order).
    fn bits(self) -> usize {
        usize::from(self.user_name)
            | usize::from(self.external_id) << 1
            | usize::from(self.family_name) << 2
            | usize::from(self.emails) << 3
    }

    /// Whether column `c` of `row_columns!` is kept by the variant `bits`.
    fn keeps(bits: usize, c: &str) -> bool {
        let bit = match c {
            "user_name" | "user_name_lower" => 0,
            "external_id" => 1,
            "family_name" => 2,
            "emails" => 3,
            _ => return false,
        };
        bits & (1 << bit) != 0
    }

    /// The compare-and-swap update setting every column but those kept: parameters 1 to
    /// [`WRITE_PARAMS`] of [`EncodedUser::write_args`], then the expected version (NULL:
    /// any).
    fn update_sql(self) -> &'static str {
        static SQL: OnceLock<[String; 16]> = OnceLock::new();
        let all = SQL.get_or_init(|| {
            std::array::from_fn(|bits| {
                let set = row_columns!()
                    .split(',')
                    .map(str::trim)
                    .zip(4..)
                    .filter(|(c, _)| !Self::keeps(bits, c))
                    .map(|(c, n)| format!("{c} = ?{n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let at = WRITE_PARAMS + 1;
                format!(
                    "UPDATE scimkit_users SET version = ?3, {set} \
                     WHERE tenant = ?1 AND id = ?2 AND (?{at} IS NULL OR version = ?{at})"
                )
            })
        });
        &all[self.bits()]
    }
}

/// The outbox rows of a replace.
enum Events<'a> {
    /// The outbox is off.
    Off,
    /// Computed before the write, from the user stored at the expected version (read on
    /// the calling task, so the writer thread only inserts them).
    Rows(&'a [NewRow]),
    /// To compute in the write transaction from the stored user and this one (as
    /// [`as_written`](outbox::as_written)): the user before the write was not known at the expected version.
    Compute(&'a User),
}

/// The compare-and-swap delete of user `?2` of tenant `?1` at version `?3` (NULL: any),
/// returning what it deleted (for its event).
const DELETE: &str = "DELETE FROM scimkit_users \
     WHERE tenant = ?1 AND id = ?2 AND (?3 IS NULL OR version = ?3) RETURNING resource, version";

fn exists(conn: &Connection, tenant: &str, id: &str) -> Result<bool, StoreError> {
    conn.prepare_cached(EXISTS.sqlite())
        .and_then(|mut st| st.exists((tenant, id)))
        .map_err(map_error)
}

/// Why a conditional write of user `id` changed no row (read in its transaction).
fn missed_in(conn: &Connection, tenant: &str, id: &str) -> StoreError {
    match exists(conn, tenant, id) {
        Ok(found) => missed(found),
        Err(e) => e,
    }
}

/// The version the next write of `tenant` takes: one above the tenant's counter (1 for its
/// first write), read without a change. A write sets the counter to it
/// ([`count_version`]) after its own statement succeeded, so that a write refused by that
/// statement (a taken `userName`, a missed compare-and-swap) changed nothing: its batch
/// needs no savepoint to undo it (see `run_batch`). The write lock makes the read and the
/// later set one step: no other write comes between.
pub(super) fn peek_version(conn: &Connection, tenant: &str) -> Result<i64, StoreError> {
    let value: Option<i64> = conn
        .prepare_cached("SELECT value FROM scimkit_tenant_counters WHERE tenant = ?1")
        .and_then(|mut st| st.query_row([tenant], |r| r.get(0)).optional())
        .map_err(map_error)?;
    Ok(value.map_or(1, |v| v + 1))
}

/// Sets the counter of `tenant` to `version` (from [`peek_version`] in this transaction),
/// adding `users` to its user count.
pub(super) fn count_version(
    conn: &Connection,
    tenant: &str,
    version: i64,
    users: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO scimkit_tenant_counters (tenant, value, users) VALUES (?1, ?2, ?3) \
         ON CONFLICT (tenant) DO UPDATE SET value = excluded.value, users = users + excluded.users",
    )
    .and_then(|mut st| st.execute((tenant, version, users)))
    .map(drop)
    .map_err(map_error)
}

/// `seq` and `emails` of user `?2` of tenant `?1`.
const EMAILS_BEFORE: &str = "SELECT seq, emails FROM scimkit_users WHERE tenant = ?1 AND id = ?2";

/// Deletes the email row of address `?2` of user `?3` of tenant `?1`.
const DELETE_EMAIL: &str =
    "DELETE FROM scimkit_user_emails WHERE tenant = ?1 AND value = ?2 AND user_seq = ?3";

/// Moves the email rows of user `seq` of `tenant` from the addresses `before` to `after`
/// (both as [`email_values`] gives them): the rows of the addresses that left deleted by
/// their key, those of the addresses that came inserted; none touched when both are the
/// same.
fn move_email_rows(
    conn: &Connection,
    tenant: &str,
    seq: i64,
    before: &[String],
    after: &[String],
) -> Result<(), StoreError> {
    let left = before.iter().filter(|v| !after.contains(v));
    let came = after.iter().filter(|v| !before.contains(v));
    let mut st = conn.prepare_cached(DELETE_EMAIL).map_err(map_error)?;
    for value in left {
        st.execute((tenant, value, seq)).map_err(map_error)?;
    }
    insert_email_rows(conn, tenant, seq, came)
}

/// Inserts the email rows of `addresses` for user `seq` of `tenant`.
fn insert_email_rows<'a>(
    conn: &Connection,
    tenant: &str,
    seq: i64,
    addresses: impl IntoIterator<Item = &'a String>,
) -> Result<(), StoreError> {
    let mut st = conn.prepare_cached(INSERT_EMAIL).map_err(map_error)?;
    for value in addresses {
        st.execute((tenant, value, seq)).map_err(map_error)?;
    }
    Ok(())
}

/// The addresses of the email rows of a user whose `emails` column is `column` (as
/// [`email_values`] gives them for the user).
fn email_values_of_column(column: Option<&str>) -> Result<Vec<String>, StoreError> {
    let Some(column) = column else {
        return Ok(Vec::new());
    };
    let emails: Vec<serde_json::Value> =
        serde_json::from_str(column).map_err(StoreError::backend)?;
    Ok(once_each(
        emails
            .iter()
            .filter_map(|e| e.get("value")?.as_str())
            .map(str::to_owned),
    ))
}

/// Inserts the email row of address `?2` of user `?3` of tenant `?1` (once: a user
/// listing one address twice, in any case, has one row for it).
const INSERT_EMAIL: &str =
    "INSERT OR IGNORE INTO scimkit_user_emails (tenant, value, user_seq) VALUES (?1, ?2, ?3)";

/// The stored user `id` of `tenant`, decoded (inside a write: no cache).
fn read_current(conn: &Connection, tenant: &str, id: &str) -> Result<Option<User>, StoreError> {
    sqlite_one(conn, GET.sqlite(), (tenant, id), |r| {
        decode(r.text(1)?, r.int(2)?)
    })
}

/// A write for `ctx` on the writer's connection (in its transaction), recording its
/// events when the store's `outbox` is on.
struct Writing<'a> {
    conn: &'a Connection,
    outbox: bool,
    ctx: &'a RequestContext,
}

impl Writing<'_> {
    /// Inserts user `row` with the tenant's next version (also its creation order) and
    /// its outbox `rows`; returns the version.
    fn create(&self, row: &EncodedUser, rows: &[NewRow]) -> Result<i64> {
        let (conn, tenant) = (self.conn, &*self.ctx.tenant);
        // One value of the tenant's counter: the user's creation order and first version;
        // the counter is set (and the user counted) once the row is in, so that a create
        // refused for a taken `userName` changed nothing.
        let version = peek_version(conn, tenant)?;
        conn.prepare_cached(insert_sql())
            .and_then(|mut st| st.execute(params_from_iter(row.write_args(tenant, version))))
            .map_err(map_error)?;
        count_version(conn, tenant, version, 1)?;
        insert_email_rows(conn, tenant, version, &row.email_values)?;
        outbox::insert_sqlite(conn, rows)?;
        Ok(version)
    }

    /// Replaces user `row` if its version is `expected` (any for `None`), setting every
    /// column but those `kept`, with its `events`; returns the new version. When the
    /// write sets `emails`, `emails_before` is the user's row and the addresses it had
    /// at `expected` if known (from [`email_values`]), else they are read here.
    fn replace(
        &self,
        row: &EncodedUser,
        expected: Option<i64>,
        kept: Kept,
        emails_before: Option<(i64, &[String])>,
        events: Events<'_>,
    ) -> Result<i64> {
        let (conn, tenant) = (self.conn, &*self.ctx.tenant);
        // The user before the write, read under the write lock, when its events are
        // computed here.
        let before = match events {
            Events::Compute(_) => match read_current(conn, tenant, &row.id)? {
                Some(u) => Some(u),
                None => return Err(StoreError::NotFound),
            },
            Events::Off | Events::Rows(_) => None,
        };
        // An update that sets `emails` moves the user's email rows: it needs the row's
        // `seq` and the addresses the user had. Known at `expected` they are exact: the
        // update writes only at that version.
        let read_before;
        let emails_before = match (kept.emails, emails_before) {
            (true, _) => None,
            (false, Some(known)) => Some(known),
            (false, None) => {
                read_before = sqlite_one(conn, EMAILS_BEFORE, (tenant, &row.id), |r| {
                    let column: Option<String> = r.get(1).map_err(map_error)?;
                    Ok((r.int(0)?, email_values_of_column(column.as_deref())?))
                })?;
                read_before.as_ref().map(|(seq, v)| (*seq, &v[..]))
            }
        };
        let version = peek_version(conn, tenant)?;
        let args = row.write_args(tenant, version).chain([Arg::Int(expected)]);
        let done = conn
            .prepare_cached(kept.update_sql())
            .and_then(|mut st| st.execute(params_from_iter(args)))
            .map_err(map_error)?;
        if done == 0 {
            // Nothing changed: the version is not taken.
            return Err(missed_in(conn, tenant, &row.id));
        }
        count_version(conn, tenant, version, 0)?;
        if let Some((seq, before)) = emails_before {
            move_email_rows(conn, tenant, seq, before, &row.email_values)?;
        }
        match events {
            Events::Off => {}
            Events::Rows(rows) => outbox::insert_sqlite(conn, rows)?,
            Events::Compute(written) => {
                let rows = outbox::rows_for(self.ctx, before.as_ref(), Some(written))?;
                outbox::insert_sqlite(conn, &rows)?;
            }
        }
        Ok(version)
    }

    fn delete(&self, id: &str, expected: Option<i64>) -> Result<()> {
        let (conn, tenant) = (self.conn, &*self.ctx.tenant);
        let deleted = sqlite_one(conn, DELETE, (tenant, id, expected), |r| {
            Ok((r.text(0)?.to_owned(), r.int(1)?))
        })?;
        let Some((resource, version)) = deleted else {
            return Err(missed_in(conn, tenant, id));
        };
        if self.outbox {
            let before = decode(&resource, version)?;
            outbox::insert_sqlite(conn, &outbox::rows_for(self.ctx, Some(&before), None)?)?;
        }
        Ok(())
    }
}

/// Reads the rows of a page (`seq` with the user), through the database's decoded users.
fn read_page(
    db: &SqliteDatabase,
    tenant: &str,
    conn: &Connection,
    sql: &str,
    params: &[Param],
) -> Result<Vec<(i64, Arc<User>)>, StoreError> {
    sqlite_all(conn, sql, params_from_iter(params), |r| {
        db.decoded().read_row(tenant, r)
    })
}

/// The number of users a list matches: its plan's `count` (without a condition, the
/// count kept per tenant).
fn count_matches(conn: &Connection, count: CountStatement<'_>) -> Result<usize, StoreError> {
    let (sql, params) = count;
    let n = sqlite_one(conn, &sql, params_from_iter(params), |r| r.int(0))?.unwrap_or(0);
    Ok(to_usize(n))
}

impl SqliteUserStore {
    /// Runs `f` as a write of this store for `ctx`, through the database's writer.
    async fn writing<T: Send + 'static>(
        &self,
        ctx: &RequestContext,
        mut f: impl FnMut(Writing<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let ctx = ctx.clone();
        let outbox = self.outbox;
        self.db
            .write(move |conn| {
                f(Writing {
                    conn,
                    outbox,
                    ctx: &ctx,
                })
            })
            .await
    }
}

/// A stored user and its row (`seq`).
type KeptRow = (i64, Arc<User>);

/// What [`sql_user_store!`] implements [`UserStore`] with.
impl SqliteUserStore {
    /// The latest user `id` this process read or wrote, if kept (no read): the base of
    /// the server's next update of it ([`UserStore::kept`]).
    fn kept_latest(&self, tenant: &str, id: &str) -> Option<Arc<User>> {
        self.db.decoded().latest(tenant, id)
    }

    /// Keeps a user just written, so its next update needs no read.
    fn keep_written(&self, tenant: &str, user: &Arc<User>, created: bool) {
        self.db.decoded().wrote(tenant, user, created);
    }

    async fn exists(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        self.db.read(|conn| exists(conn, tenant, id))
    }

    async fn insert(&self, ctx: &RequestContext, user: User) -> Result<User, StoreError> {
        let row = encode(&user, ctx.schemas())?;
        // The events are computed here, not on the writer thread that all writes share.
        let rows = if self.outbox {
            outbox::rows_for(ctx, None, Some(&as_written(&user)))?
        } else {
            Vec::new()
        };
        let version = self.writing(ctx, move |w| w.create(&row, &rows)).await?;
        Ok(as_stored(user, version))
    }

    async fn fetch(&self, tenant: &str, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        Ok(self.current(tenant, id)?.map(|(_, (_, user))| user))
    }

    /// The stored version of user `id`, its row (`seq`) and the user (from the decoded
    /// users when kept).
    fn current(&self, tenant: &str, id: &str) -> Result<Option<(i64, KeptRow)>> {
        let decoded = self.db.decoded();
        let kept = decoded.latest_kept(tenant, id);
        let kept_version = kept.as_ref().map(|(v, _)| *v);
        self.db.read(|conn| {
            sqlite_one(
                conn,
                GET_UNLESS_KEPT.sqlite(),
                (tenant, id, kept_version),
                |r| {
                    let version = r.int(2)?;
                    decoded
                        .read_unless_kept(tenant, r, kept)
                        .map(|row| (version, row))
                },
            )
        })
    }

    async fn swap(&self, ctx: &RequestContext, user: User, at: Option<i64>) -> Result<User> {
        let row = encode(&user, ctx.schemas())?;
        let written = self.outbox.then(|| as_written(&user));
        // With an expected version (PATCH and PUT through the server), the user stored
        // at that version (usually decoded already) tells which indexed columns the write
        // keeps and, with the outbox, its events, computed here rather than on the writer
        // thread that all writes share. The write is conditional on that version, so both
        // are exact; when the stored version differs, the write sets every column and the
        // writer computes the events (and the write likely fails).
        let before_row = match at {
            Some(v) => match self.db.decoded().row_at_version(&ctx.tenant, &row.id, v) {
                Some(kept) => Some(kept),
                None => self
                    .current(&ctx.tenant, &row.id)?
                    .filter(|(version, _)| *version == v)
                    .map(|(_, (seq, before))| (Some(seq), before)),
            },
            None => None,
        };
        let kept = before_row
            .as_ref()
            .map(|(_, b)| Kept::of(b, &user))
            .unwrap_or_default();
        // The row and the addresses the user had, when the write moves its email rows
        // and both are known.
        let emails_before = match &before_row {
            Some((Some(seq), b)) if !kept.emails => Some((*seq, email_values(b))),
            _ => None,
        };
        let before = before_row.map(|(_, b)| b);
        let rows = match (&written, &before) {
            (Some(written), Some(before)) => {
                Some(outbox::rows_for(ctx, Some(before), Some(written))?)
            }
            _ => None,
        };
        let version = self
            .writing(ctx, move |w| {
                let events = match (&rows, &written) {
                    (Some(rows), _) => Events::Rows(rows),
                    (None, Some(written)) => Events::Compute(written),
                    (None, None) => Events::Off,
                };
                let emails_before = emails_before.as_ref().map(|(seq, v)| (*seq, &v[..]));
                w.replace(&row, at, kept, emails_before, events)
            })
            .await?;
        Ok(as_stored(user, version))
    }

    async fn remove(&self, ctx: &RequestContext, id: &str, at: Option<i64>) -> Result<()> {
        let id = id.to_owned();
        self.writing(ctx, move |w| w.delete(&id, at)).await
    }

    async fn pending(&self, limit: usize) -> Result<Vec<ProvisioningEvent>> {
        self.db.read(|conn| outbox::pending_sqlite(conn, limit))
    }

    async fn acknowledge(&self, through: u64) -> Result<()> {
        self.db
            .write(move |conn| outbox::acknowledge_sqlite(conn, through))
            .await
    }

    async fn candidates(&self, tenant: &str, sql: &str, args: &[Param]) -> Result<Vec<Arc<User>>> {
        let rows = self
            .db
            .read(|conn| read_page(&self.db, tenant, conn, sql, args))?;
        Ok(rows.into_iter().map(|(_, u)| u).collect())
    }

    /// The page and its count in one read transaction: the total is that of the page's
    /// snapshot (unless the page tells it).
    async fn page_and_total(
        &self,
        tenant: &str,
        query: &ListQuery,
        plan: &SqlPlan,
    ) -> Result<FetchedPage> {
        self.db.read(|conn| {
            // A page of at most one user (`userName eq`, as IdPs look users up) that
            // tells its total whatever it holds is one statement, its own snapshot.
            if let Some((sql, params)) = &plan.page {
                if at_most_one(query) && page_tells_total(query, &plan.paging, 1) {
                    return Ok((read_page(&self.db, tenant, conn, sql, params)?, None));
                }
            }
            // One read transaction, so that the count is of the page's snapshot: the
            // connection's own when it keeps one open (see `SqliteDatabase::read`).
            // On an error, `read` ends it.
            let own = conn.is_autocommit();
            if own {
                exec_cached(conn, "BEGIN").map_err(map_error)?;
            }
            let rows = match &plan.page {
                Some((sql, params)) => read_page(&self.db, tenant, conn, sql, params)?,
                None => Vec::new(),
            };
            let done = plan.page.is_some() && page_tells_total(query, &plan.paging, rows.len());
            let total = if done {
                None
            } else {
                Some(count_matches(conn, plan.count())?)
            };
            if own {
                exec_cached(conn, "COMMIT").map_err(map_error)?;
            }
            Ok((rows, total))
        })
    }

    async fn count(&self, _: &str, _: &ListQuery, count: CountStatement<'_>) -> Result<usize> {
        self.db.read(|conn| count_matches(conn, count))
    }
}

sql_user_store!(SqliteUserStore, Dialect::Sqlite);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::filter::parse;
    use crate::resource::{Meta, MultiValue};
    use crate::store::sql::list_sql::test_plans::{
        assert_read_in_order, indexed_filters, page_statement, sorted_pages,
    };
    use crate::store::sql::user_rows::COLUMNS_BEFORE_8;
    use crate::testing::block_on;

    fn user(name: &str, email: &str) -> User {
        let mut u = User::new(name);
        u.id = Some(uuid::Uuid::new_v4().to_string().into());
        u.meta = Some(Meta::new("User", chrono::Utc::now()));
        u.emails = vec![MultiValue::typed(email, "work")];
        u
    }

    /// The writes IdPs see refused (a create of a taken `userName`, an update at a stale
    /// version, of a missing user) change nothing before they fail, so a batch holding them
    /// commits without savepoints (`run_batch`); the counter moves only for writes made.
    #[test]
    fn refused_writes_change_nothing_before_they_fail() {
        let db = SqliteDatabase::in_memory().unwrap();
        let ctx = RequestContext::system("t");
        let first = user("taken", "a@example.com");
        let row = encode(&first, ctx.schemas()).unwrap();
        let events = outbox::rows_for(&ctx, None, Some(&first)).unwrap();
        let outbox_rows = outbox::rows_for(&ctx, None, Some(&first)).unwrap();
        let ctx2 = ctx.clone();
        let v1 = db
            .write_inline(move |conn| {
                Writing {
                    conn,
                    outbox: true,
                    ctx: &ctx2,
                }
                .create(&row, &events)
            })
            .unwrap();
        let again = user("TAKEN", "b@example.com");
        let taken = encode(&again, ctx.schemas()).unwrap();
        let stale = encode(&first, ctx.schemas()).unwrap();
        let missing = encode(&user("nobody", "c@example.com"), ctx.schemas()).unwrap();
        let ctx2 = ctx.clone();
        let changes = db
            .write_inline(move |conn| {
                let w = Writing {
                    conn,
                    outbox: true,
                    ctx: &ctx2,
                };
                let before = conn.total_changes();
                let refused = [
                    w.create(&taken, &outbox_rows),
                    w.replace(
                        &stale,
                        Some(v1 + 7),
                        Kept::default(),
                        None,
                        Events::Rows(&outbox_rows),
                    ),
                    w.replace(
                        &missing,
                        None,
                        Kept::default(),
                        None,
                        Events::Rows(&outbox_rows),
                    ),
                ];
                assert!(
                    matches!(refused[0], Err(StoreError::Uniqueness { .. })),
                    "{refused:?}"
                );
                assert!(
                    matches!(refused[1], Err(StoreError::VersionMismatch)),
                    "{refused:?}"
                );
                assert!(
                    matches!(refused[2], Err(StoreError::NotFound)),
                    "{refused:?}"
                );
                Ok(conn.total_changes() - before)
            })
            .unwrap();
        assert_eq!(changes, 0);
        // The next write takes the next version: none was used up by the refused ones.
        let next = encode(&user("next", "d@example.com"), ctx.schemas()).unwrap();
        let ctx2 = ctx.clone();
        let v2 = db
            .write_inline(move |conn| {
                Writing {
                    conn,
                    outbox: false,
                    ctx: &ctx2,
                }
                .create(&next, &[])
            })
            .unwrap();
        assert_eq!(v2, v1 + 1);
    }

    /// A store in memory with users `a0`.. `a{n-1}` in tenant `a`, and the contexts of
    /// tenants `a` and `b`.
    async fn store_with_a_users(n: usize) -> (SqliteUserStore, RequestContext, RequestContext) {
        let store = SqliteUserStore::in_memory().await.unwrap();
        let a = RequestContext::system("a");
        for i in 0..n {
            let u = user(&format!("a{i}"), "a@example.com");
            store.create(&a, u).await.unwrap();
        }
        (store, a, RequestContext::system("b"))
    }

    /// The addresses the writer gives email rows ([`email_values`], computed from the
    /// typed user) are those SQLite reads from the `emails` column, as the rows were
    /// made from before (and as `email_values_of_column` reads them back).
    #[test]
    fn email_values_are_what_the_emails_column_holds() {
        let db = SqliteDatabase::in_memory().unwrap();
        let schemas = crate::schema::SchemaSet::default();
        let mut users = vec![user("none", "x@example.com")];
        users[0].emails.clear();
        for addresses in [
            &["Kim@Example.com"][..],
            &["A@x.com", "a@X.COM", "b@x.com"],
            &["ÉMILE@Exemple.fr", "émile@exemple.fr"],
        ] {
            let mut u = user("u", "x@example.com");
            u.emails = addresses
                .iter()
                .map(|a| MultiValue::typed(*a, "work"))
                .collect();
            users.push(u);
        }
        let mut no_value = user("nv", "y@example.com");
        no_value.emails[0].value = None;
        no_value
            .emails
            .push(MultiValue::typed("Z@example.com", "home"));
        users.push(no_value);
        for u in &users {
            let row = encode(u, &schemas).unwrap();
            let column = row.emails.clone();
            let mut by_sqlite: Vec<String> = db
                .read(|c| {
                    sqlite_all(
                        c,
                        "SELECT json_extract(e.value, '$.value') FROM json_each(?1) AS e \
                         WHERE json_type(e.value, '$.value') = 'text'",
                        [&column],
                        |r| Ok(r.text(0)?.to_owned()),
                    )
                })
                .unwrap();
            by_sqlite.dedup();
            assert_eq!(row.email_values, by_sqlite, "{:?}", u.emails);
            assert_eq!(
                email_values_of_column(column.as_deref()).unwrap(),
                by_sqlite
            );
        }
    }

    /// A store in memory with user `kim` created in tenant `a`: the store, `a`'s
    /// context, the user as created (kept) and its id.
    async fn store_with_kim() -> (SqliteUserStore, RequestContext, Arc<User>, String) {
        let (store, a, _) = store_with_a_users(0).await;
        let created = store
            .create(&a, user("kim", "k@example.com"))
            .await
            .unwrap();
        let id = created.id.as_deref().unwrap().to_owned();
        (store, a, created, id)
    }

    /// A GET of a user kept at the row's version hands out the kept user without its
    /// JSON (`GET_UNLESS_KEPT`); a row at any other version is decoded.
    #[test]
    fn a_get_hands_out_the_kept_version_and_decodes_any_other() {
        block_on(async {
            let (store, a, created, id) = store_with_kim().await;
            // Row `id` rewritten behind the store's back: `sql` with the resource `?1`.
            let rewrite = |sql: &'static str, resource: String| {
                let id = id.clone();
                store
                    .db
                    .write_inline(move |c| c.execute(sql, (&resource, &id)).map_err(map_error))
                    .unwrap()
            };
            // The JSON spoiled at the same version: a GET that decoded it would fail.
            let spoil = "UPDATE scimkit_users SET resource = ?1 WHERE id = ?2";
            rewrite(spoil, "not json".into());
            let read = store.get(&a, &id).await.unwrap().unwrap();
            assert!(Arc::ptr_eq(&read, &created), "the kept user");
            // Another process's write (a new version): decoded.
            let mut theirs = user("kim", "new@example.com");
            theirs.id = created.id.clone();
            let theirs = encode(&theirs, a.schemas()).unwrap();
            let write = "UPDATE scimkit_users SET resource = ?1, version = version + 1000 \
                         WHERE id = ?2";
            rewrite(write, theirs.resource);
            let read = store.get(&a, &id).await.unwrap().unwrap();
            assert_eq!(read.emails[0].value.as_deref(), Some("new@example.com"));
            assert_ne!(read.version(), created.version());
        });
    }

    /// A user just written is kept by its row: the next read of it (by id, in a page) is
    /// the user the write returned, not its JSON decoded again. A create's row is
    /// numbered by its first version; an update keeps the row of the version it replaced.
    #[test]
    fn the_first_read_after_a_write_finds_the_written_user_by_its_row() {
        block_on(async {
            let (store, a, created, id) = store_with_kim().await;
            let row = |store: &SqliteUserStore| {
                store
                    .db
                    .read(|conn| {
                        sqlite_one(
                            conn,
                            "SELECT seq, version FROM scimkit_users WHERE id = ?1",
                            [&id],
                            |r| Ok((r.int(0)?, r.int(1)?)),
                        )
                    })
                    .unwrap()
                    .unwrap()
            };
            let (seq, version) = row(&store);
            let kept = store
                .db
                .decoded()
                .get("a", seq, version)
                .expect("kept by row");
            assert!(Arc::ptr_eq(&kept, &created));
            let read = store.get(&a, &id).await.unwrap().unwrap();
            assert!(Arc::ptr_eq(&read, &created), "read without decoding");
            // An update over the version read keeps that row.
            let mut next = User::clone(&read);
            next.title = Some("Dr".into());
            let updated = store.replace(&a, next, read.version()).await.unwrap();
            let (same_seq, new_version) = row(&store);
            assert_eq!(same_seq, seq);
            let kept = store
                .db
                .decoded()
                .get("a", seq, new_version)
                .expect("kept by row");
            assert!(Arc::ptr_eq(&kept, &updated));
        });
    }

    /// The details of SQLite's `EXPLAIN QUERY PLAN` for `sql` with `params`.
    fn explain(db: &SqliteDatabase, sql: &str, params: &[Param]) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        db.read(|conn| {
            sqlite_all(conn, &explain, params_from_iter(params), |r| {
                Ok(r.text(3)?.to_owned())
            })
        })
        .unwrap()
    }

    fn temp_file(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("scimkit-sqlite-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// The email index has one row per (tenant, address, user): a user listing one
    /// address twice, in two cases, is stored and found by it; an update that leaves the
    /// emails alone keeps the rows, one that changes them moves them.
    #[test]
    fn email_rows_follow_the_users_emails() {
        block_on(async {
            let store = SqliteUserStore::in_memory().await.unwrap();
            let c = RequestContext::system("t");
            let mut u = user("twice", "Twice@example.com");
            u.emails
                .push(MultiValue::typed("twice@EXAMPLE.com", "home"));
            let stored = store.create(&c, u).await.unwrap();
            let found = |email: &'static str| {
                let store = &store;
                let c = &c;
                async move {
                    let q = ListQuery::all(10)
                        .with_filter(parse(&format!(r#"emails.value eq "{email}""#)).unwrap());
                    store.list(c, &q).await.unwrap().total_results
                }
            };
            assert_eq!(found("TWICE@example.com").await, 1);
            let rows = || {
                store
                    .db
                    .read(|conn| {
                        conn.query_row("SELECT COUNT(*) FROM scimkit_user_emails", [], |r| {
                            r.get::<_, i64>(0)
                        })
                        .map_err(map_error)
                    })
                    .unwrap()
            };
            assert_eq!(rows(), 1);

            let mut renamed = (*stored).clone();
            renamed.display_name = Some("Renamed".into());
            let version = stored.meta.as_ref().and_then(|m| m.version.clone());
            let renamed = store
                .replace(&c, renamed, version.as_deref())
                .await
                .unwrap();
            assert_eq!((found("twice@example.com").await, rows()), (1, 1));

            let mut moved = (*renamed).clone();
            moved.emails = vec![MultiValue::typed("moved@example.com", "work")];
            let version = renamed.meta.as_ref().and_then(|m| m.version.clone());
            let moved = store.replace(&c, moved, version.as_deref()).await.unwrap();
            assert_eq!(found("twice@example.com").await, 0);
            assert_eq!((found("moved@example.com").await, rows()), (1, 1));

            // Without a version the addresses before are read in the write: one kept,
            // one added.
            let mut added = (*moved).clone();
            added
                .emails
                .push(MultiValue::typed("Third@example.com", "home"));
            let added = store.replace(&c, added, None).await.unwrap();
            assert_eq!((found("moved@example.com").await, rows()), (1, 2));
            assert_eq!(found("third@example.com").await, 1);
            // At a version (the addresses known without a read): one removed, one kept.
            let mut removed = (*added).clone();
            removed.emails.remove(0);
            let version = added.meta.as_ref().and_then(|m| m.version.clone());
            store
                .replace(&c, removed, version.as_deref())
                .await
                .unwrap();
            assert_eq!((found("moved@example.com").await, rows()), (0, 1));
            assert_eq!(found("THIRD@example.com").await, 1);
        });
    }

    /// A replace that keeps `userName`, `externalId`, `name.familyName` or `emails` does
    /// not set their columns (so their indexes are not rewritten and the email rows are
    /// not moved); every statement still takes the same parameters.
    #[test]
    fn updates_leave_kept_indexed_columns_unset() {
        for bits in 0..16 {
            let kept = Kept {
                user_name: bits & 1 != 0,
                external_id: bits & 2 != 0,
                family_name: bits & 4 != 0,
                emails: bits & 8 != 0,
            };
            assert_eq!(kept.bits(), bits);
            let sql = kept.update_sql();
            assert_eq!(sql.contains("user_name = ?4"), !kept.user_name, "{sql}");
            assert_eq!(
                sql.contains("user_name_lower = ?5"),
                !kept.user_name,
                "{sql}"
            );
            assert_eq!(sql.contains("external_id = ?6"), !kept.external_id, "{sql}");
            assert_eq!(
                sql.contains("family_name = ?15"),
                !kept.family_name,
                "{sql}"
            );
            assert_eq!(sql.contains("emails = ?16"), !kept.emails, "{sql}");
            for always in [
                "version = ?3",
                "resource = ?12",
                "search = ?13",
                "present = ?14",
                "?17 IS NULL",
            ] {
                assert!(sql.contains(always), "{sql}");
            }
        }
    }

    /// What a PATCH of `displayName` keeps: every indexed column.
    #[test]
    fn a_display_name_update_keeps_every_indexed_column() {
        let mut before = user("kept", "kept@example.com");
        before.name = Some(crate::resource::Name {
            family_name: Some("Jensen".into()),
            ..Default::default()
        });
        let mut after = before.clone();
        after.display_name = Some("Someone Else".into());
        assert_eq!(Kept::of(&before, &after).bits(), 15);
        after.emails.clear();
        assert_eq!(Kept::of(&before, &after).bits(), 7);
    }

    #[test]
    fn indexed_filters_use_their_index() {
        block_on(async {
            let store = SqliteUserStore::in_memory().await.unwrap();
            let c = RequestContext::system("t");
            for i in 0..50 {
                store
                    .create(&c, user(&format!("u{i}"), &format!("u{i}@example.com")))
                    .await
                    .unwrap();
            }
            store
                .db
                .read(|conn| conn.execute_batch("ANALYZE").map_err(map_error))
                .unwrap();
            for (filter, index, q) in indexed_filters(Dialect::Sqlite) {
                let (sql, params) = page_statement(&q, Dialect::Sqlite);
                let details = explain(&store.db, &sql, &params);
                assert!(
                    details.iter().any(|d| d.contains(index)),
                    "{filter}: {details:?}"
                );
            }
        });
    }

    #[test]
    fn a_version_1_database_is_upgraded_with_its_data() {
        block_on(async {
            let path = temp_file("users.db");
            // A database as scimkit with schema version 1 left it, with one user.
            {
                let conn = Connection::open(&path).unwrap();
                conn.execute_batch(
                    "CREATE TABLE scimkit_schema_migrations (
                        version INTEGER PRIMARY KEY, description TEXT NOT NULL,
                        applied_at TEXT NOT NULL)",
                )
                .unwrap();
                conn.execute_batch(super::super::migrations::SQLITE[0].sql)
                    .unwrap();
                conn.execute_batch(
                    "INSERT INTO scimkit_schema_migrations VALUES (1, 'users', 'then')",
                )
                .unwrap();
                let mut u = user("old", "Old@Example.com");
                u.name = Some(crate::resource::Name {
                    family_name: Some("Jensen".into()),
                    ..Default::default()
                });
                let row = encode(&u, crate::schema::SchemaSet::core()).unwrap();
                conn.execute_batch(
                    "UPDATE scimkit_counters SET value = 41 WHERE name = 'user_version'",
                )
                .unwrap();
                conn.execute(
                    &format!(
                        "INSERT INTO scimkit_users (tenant, id, version, {COLUMNS_BEFORE_8}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                    ),
                    params_from_iter(row.write_args("t", 41).take(14)),
                )
                .unwrap();
            }
            let store = SqliteUserStore::open(&path).await.unwrap();
            assert_eq!(
                store.database().schema_version().unwrap(),
                SqliteUserStore::latest_schema_version()
            );
            let emails: i64 = store
                .db
                .read(|c| {
                    c.query_row("SELECT COUNT(*) FROM scimkit_user_emails", [], |r| r.get(0))
                        .map_err(map_error)
                })
                .unwrap();
            assert_eq!(emails, 1, "existing users are indexed by the upgrade");
            let columns: (Option<String>, Option<String>) = store
                .db
                .read(|c| {
                    c.query_row("SELECT family_name, emails FROM scimkit_users", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(map_error)
                })
                .unwrap();
            let emails = columns
                .1
                .as_deref()
                .map(serde_json::from_str::<serde_json::Value>);
            assert_eq!(
                (columns.0.as_deref(), emails.map(Result::unwrap)),
                (
                    Some("jensen"),
                    Some(serde_json::json!([{"type": "work", "value": "old@example.com"}]))
                ),
                "the upgrade fills the columns of migration 8 as a write would"
            );
            let c = RequestContext::system("t");
            let q =
                ListQuery::all(10).with_filter(parse(r#"emails eq "old@example.com""#).unwrap());
            let page = store.list(&c, &q).await.unwrap();
            assert_eq!(page.total_results, 1);
            assert_eq!(page.resources[0].user_name, "old");
            let all = store.list(&c, &ListQuery::all(0)).await.unwrap();
            assert_eq!(
                all.total_results, 1,
                "existing users are counted by the upgrade"
            );
            // The tenant's counter starts above every version handed out before.
            let old = page.resources[0].as_ref().clone();
            let next = store.replace(&c, old, None).await.unwrap();
            assert_eq!(next.version(), Some("W/\"42\""));
            std::fs::remove_dir_all(path.parent().unwrap()).ok();
        });
    }

    /// Migration 13 drops the triggers a create or an update of `emails` fired and
    /// shortens `present`: a database of schema 11, with a user its triggers indexed and
    /// counted, keeps that user's rows and count and finds it by `pr` on an Enterprise
    /// attribute, and the writes after the upgrade index and count themselves (deletes
    /// still do it by trigger).
    #[test]
    fn a_version_11_database_is_upgraded_with_its_data() {
        block_on(async {
            let path = temp_file("users.db");
            let mut old = user("old", "Old@Example.com");
            old.enterprise = Some(crate::resource::EnterpriseUser {
                department: Some("Tour Ops".into()),
                ..Default::default()
            });
            let mut row = encode(&old, crate::schema::SchemaSet::core()).unwrap();
            // `present` as schema 11 wrote it, with the Enterprise URN in full.
            let urn = crate::schema::ENTERPRISE_USER_SCHEMA;
            assert!(row.present.contains(" E:department "), "{}", row.present);
            row.present = row.present.replace(" E:", &format!(" {urn}:"));
            {
                let conn = Connection::open(&path).unwrap();
                conn.execute_batch(
                    "CREATE TABLE scimkit_schema_migrations (
                        version INTEGER PRIMARY KEY, description TEXT NOT NULL,
                        applied_at TEXT NOT NULL)",
                )
                .unwrap();
                for m in &super::super::migrations::SQLITE[..11] {
                    conn.execute_batch(m.sql).unwrap();
                    conn.execute(
                        "INSERT INTO scimkit_schema_migrations VALUES (?1, ?2, 'then')",
                        (m.version, m.description),
                    )
                    .unwrap();
                }
                // A create as schema 11 made it: the version upserted, the row inserted,
                // the email row and the count by the triggers.
                conn.execute_batch(
                    "INSERT INTO scimkit_tenant_counters (tenant, value) VALUES ('t', 7)",
                )
                .unwrap();
                conn.execute(insert_sql(), params_from_iter(row.write_args("t", 7)))
                    .unwrap();
            }
            let store = SqliteUserStore::open(&path).await.unwrap();
            assert_eq!(
                store.database().schema_version().unwrap(),
                SqliteUserStore::latest_schema_version()
            );
            let triggers: i64 = store
                .db
                .read(|c| {
                    c.query_row(
                        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' \
                         AND name IN ('scimkit_users_emails_insert', 'scimkit_users_count_insert')",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(map_error)
                })
                .unwrap();
            assert_eq!(triggers, 0);
            let c = RequestContext::system("t");
            let total = |email: &'static str| {
                let (store, c) = (&store, &c);
                async move {
                    let q = ListQuery::all(10)
                        .with_filter(parse(&format!(r#"emails.value eq "{email}""#)).unwrap());
                    let by_email = store.list(c, &q).await.unwrap().total_results;
                    let all = store
                        .list(c, &ListQuery::all(0))
                        .await
                        .unwrap()
                        .total_results;
                    (by_email, all)
                }
            };
            assert_eq!(total("OLD@example.com").await, (1, 1));
            let q = ListQuery::all(10).with_filter(parse(&format!("{urn}:department pr")).unwrap());
            assert_eq!(store.list(&c, &q).await.unwrap().total_results, 1);
            let present: String = store
                .db
                .read(|c| {
                    c.query_row("SELECT present FROM scimkit_users", [], |r| r.get(0))
                        .map_err(map_error)
                })
                .unwrap();
            assert!(present.contains(" E:department ") && !present.contains(urn));
            let new = store
                .create(&c, user("new", "New@Example.com"))
                .await
                .unwrap();
            assert_eq!(new.version(), Some("W/\"8\""), "the counter goes on");
            assert_eq!(total("new@EXAMPLE.com").await, (1, 2));
            let taken = store.create(&c, user("NEW", "other@example.com")).await;
            assert!(
                matches!(taken, Err(StoreError::Uniqueness { .. })),
                "{taken:?}"
            );
            assert_eq!(
                total("other@example.com").await,
                (0, 2),
                "a failed create counts nothing"
            );
            store
                .delete(&c, new.id.as_deref().unwrap(), None)
                .await
                .unwrap();
            assert_eq!(total("new@example.com").await, (0, 1));
            let next = store
                .create(&c, user("newer", "old@example.com"))
                .await
                .unwrap();
            assert_eq!(
                next.version(),
                Some("W/\"9\""),
                "after the 8 of the deleted user"
            );
            assert_eq!(total("old@example.com").await, (2, 2));
            // The upgraded user's addresses move with an update (no trigger either).
            let q = ListQuery::all(1).with_filter(parse(r#"userName eq "old""#).unwrap());
            let mut moved = store.list(&c, &q).await.unwrap().resources[0]
                .as_ref()
                .clone();
            moved.emails = vec![MultiValue::typed("Moved@example.com", "work")];
            let version = moved.meta.as_ref().and_then(|m| m.version.clone());
            let moved = store.replace(&c, moved, version.as_deref()).await.unwrap();
            assert_eq!(total("old@example.com").await, (1, 2));
            assert_eq!(total("moved@example.com").await, (1, 2));
            let mut gone = moved.as_ref().clone();
            gone.emails.clear();
            store.replace(&c, gone, None).await.unwrap();
            assert_eq!(total("moved@example.com").await, (0, 2));
            std::fs::remove_dir_all(path.parent().unwrap()).ok();
        });
    }

    #[test]
    fn versions_count_per_tenant() {
        block_on(async {
            let (store, _, b) = store_with_a_users(5).await;
            let first_b = store.create(&b, user("b0", "b@example.com")).await.unwrap();
            assert_eq!(
                first_b.version(),
                Some("W/\"1\""),
                "tenant a's writes do not show in tenant b's versions"
            );
        });
    }

    #[test]
    fn pages_sorted_by_family_name_read_its_index_without_sorting() {
        let db = SqliteDatabase::in_memory().unwrap();
        for (by, index, q) in sorted_pages() {
            let (sql, params) = page_statement(&q, Dialect::Sqlite);
            let details = explain(&db, &sql, &params);
            assert_read_in_order(by, index, &details, "TEMP B-TREE");
        }
    }

    #[test]
    fn cursor_positions_count_per_tenant_and_kept_users_stay_in_their_tenant() {
        block_on(async {
            let (store, a, b) = store_with_a_users(3).await;
            let first_b = store.create(&b, user("b0", "b@example.com")).await.unwrap();
            store.create(&b, user("b1", "b@example.com")).await.unwrap();
            let mut q = ListQuery::all(1);
            q.cursor = Some(String::new());
            let page = store.list(&b, &q).await.unwrap();
            assert_eq!(page.resources[0].user_name, "b0");
            assert_eq!(
                page.next_cursor.as_deref(),
                Some("1"),
                "tenant a's creates do not show in tenant b's positions"
            );
            // Both tenants' first users are row 1 at version 1: each gets its own.
            let id_b = first_b.id.clone().unwrap();
            for _ in 0..2 {
                let got = store.get(&b, &id_b).await.unwrap().unwrap();
                assert_eq!(got.user_name, "b0");
                let page_a = store.list(&a, &q).await.unwrap();
                assert_eq!(page_a.resources[0].user_name, "a0");
                let page_b = store.list(&b, &q).await.unwrap();
                assert_eq!(page_b.resources[0].user_name, "b0");
            }
        });
    }

    /// IdPs look users up by `userName eq` (Entra without `count`, Okta with
    /// `count=1` or `count=100`): the page alone tells the total when it can (no
    /// transaction), the count is read in the page's snapshot when it cannot.
    #[test]
    fn user_name_lookups_give_exact_totals_whatever_the_count_and_start() {
        block_on(async {
            let (store, a, b) = store_with_a_users(3).await;
            for (filter, matches) in [
                (r#"userName eq "A1""#, 1),
                (r#"userName eq "a1" and active eq true"#, 0),
                (r#"userName eq "nobody""#, 0),
            ] {
                for (start, count) in [(1, 100), (1, 1), (1, 0), (2, 100), (2, 1)] {
                    let mut q = ListQuery::all(count).with_filter(parse(filter).unwrap());
                    q.start_index = start;
                    let page = store.list(&a, &q).await.unwrap();
                    let shown = if start == 1 { matches.min(count) } else { 0 };
                    assert_eq!(
                        (page.total_results, page.resources.len()),
                        (matches, shown),
                        "{filter} startIndex={start} count={count}"
                    );
                    let other = store.list(&b, &q).await.unwrap();
                    assert_eq!(other.total_results, 0, "{filter}: another tenant's");
                }
            }
        });
    }

    #[test]
    fn unfiltered_totals_are_kept_exact_by_the_triggers() {
        block_on(async {
            let store = SqliteUserStore::in_memory().await.unwrap();
            let a = RequestContext::system("a");
            let b = RequestContext::system("b");
            let mut ids = Vec::new();
            for i in 0..5 {
                let u = store
                    .create(&a, user(&format!("a{i}"), "a@example.com"))
                    .await
                    .unwrap();
                ids.push(u.id.clone().unwrap());
            }
            // A refused create and a refused delete count nothing.
            assert!(store.create(&a, user("A0", "x@example.com")).await.is_err());
            assert!(store.delete(&a, &ids[0], Some("W/\"999\"")).await.is_err());
            store.delete(&a, &ids[1], None).await.unwrap();
            store.delete(&a, &ids[2], None).await.unwrap();
            for count in [0, 1, 10] {
                let page = store
                    .list(&a, &ListQuery::all(count).starting_at(2))
                    .await
                    .unwrap();
                assert_eq!(page.total_results, 3, "count={count}");
            }
            assert_eq!(
                store
                    .list(&b, &ListQuery::all(1))
                    .await
                    .unwrap()
                    .total_results,
                0
            );
            let counted: i64 = store
                .db
                .read(|c| {
                    c.query_row(
                        "SELECT COUNT(*) FROM scimkit_users WHERE tenant = 'a'",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(map_error)
                })
                .unwrap();
            assert_eq!(counted, 3);
        });
    }
}
