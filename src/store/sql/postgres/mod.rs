//! [`PostgresUserStore`]: users in PostgreSQL, shared by any number of scimkit replicas.

mod groups;
mod kept;
mod numbers;
mod pages;
mod schema;

use std::sync::{Arc, OnceLock};

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};

use super::decoded::{DEFAULT_DECODED, Decoded};
use super::driver::{Param, ReadRow, bind, bind_params, fetch_one};
use super::encode::{EncodedUser, WRITE_PARAMS, as_stored, decode, encode, missed};
use super::filter_sql::Dialect;
use super::list_sql::CountStatement;
use super::migrations::POSTGRES;
use super::outbox::{self, Staged};
use super::user_rows::{EXISTS, GET, GET_UNLESS_KEPT, row_columns, sql_user_store};
use super::{DEFAULT_FALLBACK_LIMIT, Result, backend_msg, map_db_error, to_usize};
use crate::events::ProvisioningEvent;
use crate::list::{ListPage, ListQuery};
use crate::resource::User;
use crate::store::{RequestContext, StoreError, UserStore};
pub use groups::PostgresGroupStore;
use kept::Kept;
use numbers::Numbers;
pub(super) use schema::{connect_pool, pool_with};
use schema::{current_version, migrate_to};

/// A [`UserStore`] in PostgreSQL (12 or later), for any number of stateless scimkit
/// replicas sharing one database.
///
/// Uniqueness, compare-and-swap and versions are enforced by the database, so they hold
/// across processes. Tables live in the connection's `search_path` (set it, e.g. with
/// `PgConnectOptions::options([("search_path", "scim")])`, to keep them in a schema of
/// their own). The contract is the [`crate::store`] module's.
///
/// # What it keeps
///
#[doc = include_str!("../docs/uniqueness.md")]
/// - **Compare-and-swap**: `replace`/`delete` with an expected version are one
///   `UPDATE`/`DELETE ... WHERE tenant = ? AND id = ? AND version = ?`. The delete's
///   statement also tells a missing user from a version mismatch; a replace that wrote
///   nothing asks in a second statement (a round trip on that path only, so that the
///   replaces that succeed do not read the row twice).
/// - **Versions and positions per tenant**: `meta.version` (`W/"<n>"`) and the creation
///   order that cursors carry come from one counter per tenant
///   (`scimkit_tenant_counters`), so they reveal nothing about other tenants' activity.
///   A store reserves the counter's values 64 at a time, in a statement of its own
///   committed at once, and hands them out to its writes (smallest first): a tenant's
///   writes do not wait on one another for a number, and the reservation costs one round
///   trip every 64 writes. A counter never goes back and starts above every value handed
///   out before (see migration 0005), and a value is handed out once, so no version is
///   ever reused for a resource, not even after a delete and a re-create with the same
///   id. Values a process reserved and did not use are skipped (gaps), and the creation
///   order of users created concurrently by two processes follows their blocks, not
///   the clock.
/// - **Round trips**: a GET, a `userName eq`/`id eq` page, a create, a replace and a
///   delete are each one statement, so one round trip (plus one every 64 writes of a
///   tenant, to reserve numbers); with the outbox, a replace reads the user first (its
///   events are the difference), so two. Another list page is one statement for its
///   rows' keys and its total (an init plan), one round trip when the store
///   keeps every user of the page decoded (see
///   [`PostgresUserStore::with_decoded_users`]: an identity provider's repeated import),
///   and a second for the resources of the users it does not keep. Only a page past
///   the end counts apart. The pool does not test connections before use (see
///   [`PostgresUserStore::connect`]).
/// - **Totals**: `totalResults` of a list without a filter (an identity provider's
///   import) is the sum of the tenant's rows in `scimkit_user_counts`, which a trigger
///   keeps on every insert and delete (migration 0010: one row per tenant and slot of 64,
///   the slot the writing server process's, so writers of one tenant rarely wait on one
///   another); a filtered total is an exact `COUNT(*)` with the page's `WHERE`.
/// - **Sorted pages** by `name.familyName` read an index in order (migration 0006), like
///   unsorted pages read `(tenant, seq)`; other sort keys sort the matching rows (an index
///   per key would cost every write; migration 0007 dropped those of `name.givenName`
///   and `displayName`). Pools the store opens price random reads for cached data
///   (`random_page_cost` 1.1 unless set elsewhere, see [`PostgresUserStore::connect`]),
///   so that a page in the middle of a small tenant reads that index too.
#[doc = include_str!("../docs/tenants_and_filters.md")]
/// - **Migrations** ship in the crate, run from the constructors (or `migrate`), each in
///   one transaction, recorded in `scimkit_schema_migrations`; running them again is a
///   no-op, and a database made by an older version is upgraded in place.
///
#[doc = include_str!("../docs/not_stored.md")]
/// ```no_run
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::store::PostgresUserStore;
/// let store = PostgresUserStore::connect("postgres://scim@db.internal/scim").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresUserStore {
    /// The pool, and the connections checked out of it and kept between statements
    /// (shared by the clones).
    conns: Arc<Kept>,
    fallback_limit: usize,
    /// Whether writes record provisioning events in `scimkit_outbox`.
    outbox: bool,
    /// Values of the tenants' counters reserved by this store (and its clones), not
    /// handed out yet.
    numbers: Arc<Numbers>,
    /// Users read, kept decoded by (tenant, row, version), shared by the clones.
    decoded: Arc<Decoded>,
}

impl PostgresUserStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with a pool of
    /// up to 10 connections, and brings the schema up to date.
    ///
    /// The pool does not test a connection before handing it out (`test_before_acquire`
    /// off: that test is a round trip per request); a connection the server has closed
    /// fails its next statement, that request gets a 500, and the connection leaves the
    /// pool. The store keeps the connections it used for its next statements, up to three
    /// quarters of the pool's maximum, instead of handing each back to the pool after
    /// every request, where sqlx 0.8 would test it (a second round trip per request); a
    /// connection whose request failed or was dropped midway goes back to the pool, which
    /// tests it, and so does one kept idle for 10 s or checked out for a minute.
    /// Statements are prepared once per connection and cached. Each new
    /// connection sets `random_page_cost` to 1.1 (the price commonly used for SSDs and
    /// cached data; PostgreSQL's default, 4, is a spinning disk's) unless the server's
    /// configuration, the database, the role or the connection options set it: with 4,
    /// a page in the middle of a small tenant (`startIndex=401&count=100` of 1,000
    /// users) is planned as a read of every row of the tenant and a sort, three to four
    /// times slower than reading the index of its order. A pool built by the host
    /// ([`PostgresUserStore::from_pool`]) keeps the host's settings.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is invalid, the server unreachable, or a
    /// migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::from_pool(connect_pool(url).await?).await
    }

    /// Connects with the given options (a pool set up as [`PostgresUserStore::connect`]'s),
    /// and brings the schema up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the server is unreachable or a migration fails.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        Self::from_pool(pool_with(options).await?).await
    }

    /// A store over an existing pool, after bringing the schema up to date
    /// ([`PostgresUserStore::migrate`]). Other SQL stores of scimkit can share the pool.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if a migration fails.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        Self::migrate(&pool).await?;
        Ok(Self {
            conns: Kept::new(pool),
            fallback_limit: DEFAULT_FALLBACK_LIMIT,
            outbox: false,
            numbers: Arc::default(),
            decoded: Arc::new(Decoded::new(DEFAULT_DECODED)),
        })
    }

    /// Applies the migrations shipped with this version of scimkit that the database has
    /// not seen yet, in one transaction under an advisory lock (so replicas starting
    /// together apply each once), and returns the resulting schema version.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if a migration fails (nothing is applied then).
    pub async fn migrate(pool: &PgPool) -> Result<i64, StoreError> {
        migrate_to(pool, i64::MAX).await
    }

    /// The schema version of the database (0 for an empty database).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the database cannot be read.
    pub async fn schema_version(pool: &PgPool) -> Result<i64, StoreError> {
        let mut conn = pool.acquire().await.map_err(map_db_error)?;
        current_version(&mut conn).await.map_err(map_db_error)
    }

    /// The latest schema version this version of scimkit knows.
    pub fn latest_schema_version() -> i64 {
        POSTGRES.last().map_or(0, |m| m.version)
    }

    /// The connection pool, e.g. to share it with another store or to close it.
    pub fn pool(&self) -> &PgPool {
        self.conns.pool()
    }

    /// How many connections the store keeps checked out of its pool, idle, for its next
    /// statements (see [`PostgresUserStore::connect`]). With the pool's own idle
    /// connections, these are every connection not in use.
    pub fn kept_connections(&self) -> usize {
        self.conns.idle()
    }

    /// Keeps up to `n` users decoded (default 4,096; 0 keeps none). A user read (by
    /// `get` or in a list page) is decoded from its JSON once, then handed out again for
    /// as long as its row keeps that version. A list page reads its rows' keys first: a
    /// page of users already kept is one round trip without their JSON and no parsing;
    /// the users not kept cost a second round trip for their resources. With 0, a page
    /// is one statement carrying every resource, decoded each time. A kept user is never
    /// stale: every write gives the row a version never used before, and the key is
    /// (tenant, row, version).
    #[must_use]
    pub fn with_decoded_users(mut self, n: usize) -> Self {
        self.decoded = Arc::new(Decoded::new(n));
        self
    }

    #[doc = include_str!("../docs/outbox.md")]
    ///
    /// Each write and its events are **one statement** (common table expressions: the
    /// user's row, then the outbox rows, inserted from values when there is one, from
    /// arrays when there are several): one round trip, one transaction. A replace first
    /// reads the user it replaces, computes the events, and then swaps on the version it
    /// read, so the events describe exactly the change committed; when another writer
    /// comes between and no version was expected, it reads again (and after a few lost
    /// races locks the row `FOR UPDATE` in a transaction).
    ///
    /// # Replicas
    ///
    /// Every replica may write with the outbox on, and writes do not wait for each other:
    /// each stages its events (`scimkit_outbox_staged`, migration 0012) under a
    /// transaction-scoped advisory lock taken *shared*. The reader numbers them: it takes
    /// the lock *exclusive* — waiting for the writes staging events to commit or roll
    /// back, and holding new ones back for one statement and its commit — and moves every
    /// staged row into `scimkit_outbox` in staging order. Ids therefore increase in the
    /// order rows become readable, across all replicas, which is what makes
    /// `acknowledge_events(through)` (delete every id up to `through`) safe: no smaller id
    /// can appear later. A later write of a user stages its events after the earlier
    /// write's, so each user's (and group's) events come in commit order.
    ///
    /// [`EventOutbox::pending_events`](crate::events::EventOutbox::pending_events) reads without claiming rows, so run **one**
    /// dispatcher per database (e.g. in one designated replica, or a separate worker with
    /// a store on the same database, which needs no outbox of its own to read it). Two
    /// dispatchers would each deliver the same events, not lose any: delivery is at least
    /// once either way (a dispatcher that stops between delivering and acknowledging
    /// delivers again), so sinks deduplicate by
    /// [`ProvisioningEvent::id`](crate::events::ProvisioningEvent::id).
    #[must_use]
    pub fn with_outbox(mut self) -> Self {
        self.outbox = true;
        self
    }
}

/// A PostgreSQL statement built once per process, for each shape of the outbox's rows it
/// stages ([`Staged`]: none, one, several).
type Built = [OnceLock<String>; 3];

/// The variant for `staged` of the statement `cell`, built the first time by `build` from
/// the outbox's common table expression (`cte`, or nothing when it stages nothing).
fn built(
    cell: &'static Built,
    staged: Staged,
    cte: impl FnOnce(Staged) -> String,
    build: fn(&str) -> String,
) -> &'static str {
    cell[staged as usize].get_or_init(|| {
        let o = match staged {
            Staged::None => String::new(),
            Staged::One | Staged::Many => format!(", {}", cte(staged)),
        };
        build(&o)
    })
}

/// The values of a row's columns: parameters `$4` to `$16` ([`WRITE_PARAMS`]) of
/// [`EncodedUser::write_args`], each cast to its column's type where that is JSON.
fn row_values() -> &'static str {
    static VALUES: OnceLock<String> = OnceLock::new();
    VALUES.get_or_init(|| {
        let values: Vec<String> = row_columns!()
            .split(',')
            .map(str::trim)
            .zip(4..)
            .map(|(c, n)| match c {
                "resource" => format!("${n}::json"),
                "search" | "emails" => format!("${n}::jsonb"),
                _ => format!("${n}"),
            })
            .collect();
        debug_assert_eq!(values.len() + 3, WRITE_PARAMS);
        values.join(", ")
    })
}

/// How many times `replace` with the outbox reads and compare-and-swaps before it locks
/// the row instead (only a write without an expected version retries).
const OPTIMISTIC_ATTEMPTS: usize = 3;

/// The create statement, one round trip: the row and the outbox rows (CTE `o`, if any).
/// Parameters: `$1`..`$16` ([`WRITE_PARAMS`]) of [`EncodedUser::write_args`] (the
/// version, a value of the tenant's counter, is also the creation order `seq`), then the
/// outbox's arrays.
fn create_sql(o: &str) -> String {
    format!(
        "WITH u AS (INSERT INTO scimkit_users (tenant, id, version, {}, seq) \
         VALUES ($1, $2, $3, {}, $3) RETURNING version){o} \
         SELECT version FROM u",
        row_columns!(),
        row_values()
    )
}

/// The compare-and-swap replace, one round trip: returns the new `version`, or no row
/// when nothing was written (then [`swap_row`] asks whether the user exists, to tell a
/// missing user from a version mismatch: a second round trip on that path only; a read
/// of the user in the statement itself cost PostgreSQL about 20 µs on every replace).
/// Parameters: `$1`..`$16` ([`WRITE_PARAMS`]) of [`EncodedUser::write_args`] (`$3` the
/// new version), `$17` the expected version (NULL: any), then the outbox's.
fn replace_sql(o: &str) -> String {
    let at = WRITE_PARAMS + 1;
    format!(
        "WITH upd AS (UPDATE scimkit_users SET version = $3, ({}) = ({}) \
         WHERE tenant = $1 AND id = $2 AND (${at}::bigint IS NULL OR version = ${at}) \
         RETURNING version){o} \
         SELECT version FROM upd",
        row_columns!(),
        row_values()
    )
}

/// The compare-and-swap delete, one round trip, with its event (CTE `o`, if any): returns
/// `deleted` and `found`. Parameters: `$1` tenant, `$2` id, `$3` the expected version
/// (NULL: any), then the outbox's.
fn delete_sql(o: &str) -> String {
    format!(
        "WITH cur AS (SELECT 1 FROM scimkit_users WHERE tenant = $1 AND id = $2), \
         del AS (DELETE FROM scimkit_users WHERE tenant = $1 AND id = $2 \
         AND ($3::bigint IS NULL OR version = $3) RETURNING id, user_name){o} \
         SELECT EXISTS (SELECT 1 FROM del) AS deleted, EXISTS (SELECT 1 FROM cur) AS found"
    )
}

static CREATE: Built = [const { OnceLock::new() }; 3];
static REPLACE: Built = [const { OnceLock::new() }; 3];
static DELETE: Built = [const { OnceLock::new() }; 3];

/// Runs the replace statement of [`replace_sql`]: the new version if written, and
/// whether the user exists (asked in a second statement when nothing was written).
async fn swap_row(
    conn: &mut PgConnection,
    tenant: &str,
    row: &EncodedUser,
    expected: Option<i64>,
    version: i64,
    events: &[outbox::NewRow],
) -> Result<(Option<i64>, bool), StoreError> {
    let cte = |staged| outbox::postgres_rows_cte(staged, WRITE_PARAMS + 2, "upd");
    let sql = built(&REPLACE, Staged::of(events), cte, replace_sql);
    let q = bind(sqlx::query(sql), row.write_args(tenant, version)).bind(expected);
    let q = if events.is_empty() {
        q
    } else {
        outbox::bind_postgres_rows(q, events)
    };
    match fetch_one(q, &mut *conn, |r| r.int(0)).await? {
        Some(version) => Ok((Some(version), true)),
        None => {
            let q = sqlx::query(EXISTS.postgres())
                .bind(tenant)
                .bind(row.id.as_str());
            Ok((None, fetch_one(q, conn, |_| Ok(())).await?.is_some()))
        }
    }
}

/// The swap of `row` over `before`, the user stored at version `at`, with the events
/// of that change: the new version if written, and whether the user exists.
async fn swap_from(
    conn: &mut PgConnection,
    ctx: &RequestContext,
    user: &User,
    row: &EncodedUser,
    before: &User,
    at: i64,
    version: i64,
) -> Result<(Option<i64>, bool), StoreError> {
    let events = outbox::rows_for(ctx, Some(before), Some(&outbox::as_written(user)))?;
    swap_row(conn, &ctx.tenant, row, Some(at), version, &events).await
}

impl PostgresUserStore {
    /// `replace` with the outbox: read the user (locked `FOR UPDATE` in a transaction
    /// with `lock`), compute the events from it, then compare-and-swap on the version
    /// read, events included, in one statement. `None` when another write came between
    /// the read and the swap and no version was expected (the caller reads again).
    async fn replace_once(
        conn: &mut PgConnection,
        ctx: &RequestContext,
        user: &User,
        row: &EncodedUser,
        expected: Option<i64>,
        version: i64,
        lock: bool,
    ) -> Result<Option<User>, StoreError> {
        let locked;
        let sql = if lock {
            locked = format!("{} FOR UPDATE", GET.postgres());
            locked.as_str()
        } else {
            GET.postgres()
        };
        let q = sqlx::query(sql).bind(&*ctx.tenant).bind(row.id.as_str());
        let (read, before) = fetch_one(q, &mut *conn, |r| {
            Ok((r.int(2)?, decode(r.text(1)?, r.int(2)?)?))
        })
        .await?
        .ok_or(StoreError::NotFound)?;
        if expected.is_some_and(|e| e != read) {
            return Err(StoreError::VersionMismatch);
        }
        match swap_from(conn, ctx, user, row, &before, read, version).await? {
            (Some(version), _) => Ok(Some(as_stored(user.clone(), version))),
            (None, true) if expected.is_none() => Ok(None),
            (None, found) => Err(missed(found)),
        }
    }

    /// `replace` with the outbox: one round trip (the swap with its events) when the
    /// user at the expected version is kept decoded, as it is after the server's read;
    /// else two (read, then swap) unless writers keep racing on the user without an
    /// expected version, which then end in a transaction that locks the row.
    async fn replace_with_events(
        &self,
        ctx: &RequestContext,
        user: User,
        expected: Option<i64>,
    ) -> Result<User, StoreError> {
        let row = encode(&user, ctx.schemas())?;
        // One value for every attempt: it is written at most once.
        let version = self.number(&ctx.tenant).await?;
        let mut conn = self.conns.get().await?;
        // The user at the expected version, kept decoded (the server read it just before
        // this write): its events are computed from it, and the write is one statement,
        // conditional on that version, so they are exact.
        let kept = expected.and_then(|v| {
            self.decoded
                .at_version(&ctx.tenant, &row.id, v)
                .map(|before| (v, before))
        });
        if let Some((at, before)) = kept {
            let swapped = swap_from(&mut conn, ctx, &user, &row, &before, at, version).await?;
            conn.done();
            return match swapped {
                (Some(version), _) => Ok(as_stored(user, version)),
                (None, found) => Err(missed(found)),
            };
        }
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            if let Some(stored) =
                Self::replace_once(&mut conn, ctx, &user, &row, expected, version, false).await?
            {
                conn.done();
                return Ok(stored);
            }
        }
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(map_db_error)?;
        let stored = Self::replace_once(&mut tx, ctx, &user, &row, expected, version, true)
            .await?
            // The row is locked: the swap on the version just read cannot miss.
            .ok_or(StoreError::VersionMismatch)?;
        tx.commit().await.map_err(map_db_error)?;
        conn.done();
        Ok(stored)
    }
}

/// What [`sql_user_store!`] implements [`UserStore`] with.
impl PostgresUserStore {
    /// The latest user `id` this process read or wrote, if kept (no round trip): the
    /// base of the server's next update of it ([`UserStore::kept`]).
    fn kept_latest(&self, tenant: &str, id: &str) -> Option<Arc<User>> {
        self.decoded.latest(tenant, id)
    }

    /// Keeps a user just written, so its next update needs no read.
    fn keep_written(&self, tenant: &str, user: &Arc<User>, created: bool) {
        self.decoded.wrote(tenant, user, created);
    }

    async fn exists(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let q = || sqlx::query(EXISTS.postgres()).bind(tenant).bind(id);
        Ok(self.conns.read_one(q, |_| Ok(())).await?.is_some())
    }

    async fn insert(&self, ctx: &RequestContext, user: User) -> Result<User, StoreError> {
        let row = encode(&user, ctx.schemas())?;
        // A create's events do not depend on the version (`meta` is not compared).
        let events = if self.outbox {
            outbox::rows_for(ctx, None, Some(&user))?
        } else {
            Vec::new()
        };
        let number = self.number(&ctx.tenant).await?;
        let cte = |staged| outbox::postgres_rows_cte(staged, WRITE_PARAMS + 1, "u");
        let sql = built(&CREATE, Staged::of(&events), cte, create_sql);
        let q = bind(sqlx::query(sql), row.write_args(&ctx.tenant, number));
        let q = if events.is_empty() {
            q
        } else {
            outbox::bind_postgres_rows(q, &events)
        };
        let version = self
            .conns
            .fetch_one(q, |r| r.int(0))
            .await?
            .ok_or_else(|| backend_msg("a create returned no version"))?;
        Ok(as_stored(user, version))
    }

    async fn fetch(&self, tenant: &str, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        let kept = self.decoded.latest_kept(tenant, id);
        let kept_version = kept.as_ref().map(|(v, _)| *v);
        let q = || {
            sqlx::query(GET_UNLESS_KEPT.postgres())
                .bind(tenant)
                .bind(id)
                .bind(kept_version)
        };
        self.conns
            .read_one(q, |r| Ok(self.decoded.read_unless_kept(tenant, r, kept)?.1))
            .await
    }

    async fn swap(&self, ctx: &RequestContext, user: User, at: Option<i64>) -> Result<User> {
        if self.outbox {
            return self.replace_with_events(ctx, user, at).await;
        }
        let row = encode(&user, ctx.schemas())?;
        let version = self.number(&ctx.tenant).await?;
        let mut conn = self.conns.get().await?;
        let swapped = swap_row(&mut conn, &ctx.tenant, &row, at, version, &[]).await?;
        conn.done();
        match swapped {
            (Some(version), _) => Ok(as_stored(user, version)),
            (None, found) => Err(missed(found)),
        }
    }

    async fn remove(&self, ctx: &RequestContext, id: &str, at: Option<i64>) -> Result<()> {
        let cte = |_| outbox::postgres_deleted_cte(4, "del");
        // A delete stages one event (`userDeleted`), bound as values.
        let staged = if self.outbox {
            Staged::One
        } else {
            Staged::None
        };
        let sql = built(&DELETE, staged, cte, delete_sql);
        let q = sqlx::query(sql).bind(&*ctx.tenant).bind(id).bind(at);
        let q = if self.outbox {
            outbox::bind_postgres_deleted(q, ctx)?
        } else {
            q
        };
        let (deleted, found) = self
            .conns
            .fetch_one(q, |r| {
                let deleted: bool = r.try_get("deleted").map_err(map_db_error)?;
                let found: bool = r.try_get("found").map_err(map_db_error)?;
                Ok((deleted, found))
            })
            .await?
            .ok_or_else(|| backend_msg("a delete returned no row"))?;
        if deleted { Ok(()) } else { Err(missed(found)) }
    }

    async fn pending(&self, limit: usize) -> Result<Vec<ProvisioningEvent>> {
        outbox::pending_postgres(self.pool(), limit).await
    }

    async fn acknowledge(&self, through: u64) -> Result<()> {
        outbox::acknowledge_postgres(self.pool(), through).await
    }

    async fn candidates(&self, tenant: &str, sql: &str, args: &[Param]) -> Result<Vec<Arc<User>>> {
        let q = || bind_params(sqlx::query(sql), args);
        self.conns
            .read_all(q, |r| Ok(self.decoded.read_row(tenant, r)?.1))
            .await
    }

    async fn count(&self, _: &str, _: &ListQuery, count: CountStatement<'_>) -> Result<usize> {
        let (sql, params) = &count;
        let q = || bind_params(sqlx::query(sql), params);
        Ok(to_usize(
            self.conns.read_one(q, |r| r.int(0)).await?.unwrap_or(0),
        ))
    }
}

sql_user_store!(PostgresUserStore, Dialect::Postgres);

#[cfg(test)]
mod tests;
