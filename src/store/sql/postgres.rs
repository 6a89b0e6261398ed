//! [`PostgresUserStore`]: users in PostgreSQL, shared by any number of scimkit replicas.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row};

use super::decoded::{DEFAULT_DECODED, Decoded};
use super::encode::{EncodedUser, as_stored, decode, encode, parse_version};
use super::filter_sql::{Dialect, Param};
use super::list_sql::{Paging, Plan, finish_page, page_columns, page_in_rust, plan, set_total};
use super::migrations::{Migration, POSTGRES, pending};
use super::outbox;
use super::{DEFAULT_FALLBACK_LIMIT, backend_msg, map_db_error, to_i64, to_usize};
use crate::events::ProvisioningEvent;
use crate::list::{ListPage, ListQuery};
use crate::resource::User;
use crate::store::{RequestContext, StoreError, UserStore};

/// Key of the advisory lock that serializes migrations across processes.
const MIGRATION_LOCK: i64 = 0x5c13_6b17_0001;

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

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
/// - **Uniqueness** of `userName` per tenant by a unique index on the `userName`
///   lower-cased in Rust (`str::to_lowercase`, as [`MemoryUserStore`](crate::MemoryUserStore)
///   folds it), so two racing creates, in one process or two, give one
///   [`StoreError::Uniqueness`].
/// - **Compare-and-swap**: `replace`/`delete` with an expected version are one
///   `UPDATE`/`DELETE ... WHERE tenant = ? AND id = ? AND version = ?`, in a statement
///   that also tells a missing user from a version mismatch.
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
///   rows' keys and its total (an init-plan `COUNT(*)`), one round trip when the store
///   keeps every user of the page decoded (see
///   [`PostgresUserStore::with_decoded_users`]: an identity provider's repeated import),
///   and a second for the resources of the users it does not keep. Only a page past
///   the end counts apart. The pool does not test connections before use (see
///   [`PostgresUserStore::connect`]).
/// - **Sorted pages** by `name.familyName`, `name.givenName` or `displayName` read an
///   index in order (migration 0006), like unsorted pages read `(tenant, seq)`.
/// - **Tenants**: every statement has `tenant = ?` in its `WHERE` clause.
/// - **Filters run in SQL**, with bound parameters, for every core and Enterprise User
///   attribute, with the answers of [`Filter::matches`](crate::Filter::matches):
///   `and`/`or`/`not`, `pr`, every operator (`co`/`sw`/`ew` as escaped `LIKE`),
///   `caseExact`-aware comparisons that agree with Rust's Unicode lower-casing (strings are
///   stored folded beside the resource, not compared with SQL `lower()`), instants as
///   instants, multi-valued attributes and value filters (`emails[type eq "work" and
///   value co "@x"]`) through the JSON functions. `userName`, `externalId`, `id` and
///   `emails.value` equality use indexes. `totalResults` is an exact `COUNT(*)`; `startIndex`
///   pages are `ORDER BY ... LIMIT/OFFSET`, cursor pages (RFC 9865) keyset pages on the
///   creation order, and `sortBy` is an `ORDER BY` with [`SortSpec`](crate::sort::SortSpec)'s
///   semantics. What is not translated (filter shapes the parser does not produce, `sortBy`
///   under a foreign URN) is evaluated in Rust over at most
///   [`DEFAULT_FALLBACK_LIMIT`](crate::store::DEFAULT_FALLBACK_LIMIT) candidates, and
///   refused past that with [`StoreError::InvalidFilter`].
/// - **Migrations** ship in the crate, run from the constructors (or `migrate`), each in
///   one transaction, recorded in `scimkit_schema_migrations`; running them again is a
///   no-op, and a database made by an older version is upgraded in place.
///
/// # What it does not store
///
/// `password`: secrets are never stored in plain text and a SCIM server never returns
/// them, so a user comes back without it. A host that needs it takes it from the `User`
/// before the store (e.g. hashes it in a wrapping [`UserStore`]). Strings holding U+0000
/// are refused with [`StoreError::Backend`] (PostgreSQL cannot store them).
///
/// ```no_run
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::store::PostgresUserStore;
/// let store = PostgresUserStore::connect("postgres://scim@db.internal/scim").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresUserStore {
    pool: PgPool,
    fallback_limit: usize,
    /// Whether writes record provisioning events in `scimkit_outbox`.
    outbox: bool,
    /// Values of the tenants' counters reserved by this store (and its clones), not
    /// handed out yet.
    numbers: Arc<Numbers>,
    /// Users read, kept decoded by (tenant, row, version), shared by the clones.
    decoded: Arc<Decoded>,
}

/// How many values of a tenant's counter a store reserves at a time.
const BLOCK: i64 = 64;

/// Past this many tenants with reserved values, a store forgets them all (the values
/// are skipped: a gap, never a reuse).
const MAX_RESERVING_TENANTS: usize = 10_000;

/// Reserves `$2` values of tenant `$1`'s counter and returns the last: the values
/// `last - $2 + 1 ..= last` are this store's. A tenant's first reservation starts above
/// `scimkit_counter_base` (see migration 0005). Runs on its own, committed at once, so
/// the counter's row is locked only for that statement.
const RESERVE: &str = "INSERT INTO scimkit_tenant_counters AS c (tenant, value) \
     VALUES ($1, (SELECT value FROM scimkit_counter_base) + $2) \
     ON CONFLICT (tenant) DO UPDATE SET value = c.value + $2 RETURNING value";

/// Reserved counter values, per tenant: ranges `(next, last)` sorted by `next`, so that
/// the smallest is handed out first and a store's successive writes get increasing
/// values.
#[derive(Debug, Default)]
struct Numbers {
    reserved: Mutex<Reserved>,
}

/// Per tenant, the ranges `(next, last)` of reserved values, sorted.
type Reserved = HashMap<Arc<str>, Vec<(i64, i64)>>;

impl Numbers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Reserved> {
        // Every operation below completes before it could panic: the map stays whole.
        self.reserved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The smallest reserved value of `tenant`, if any is left.
    fn take(&self, tenant: &str) -> Option<i64> {
        let mut map = self.lock();
        let ranges = map.get_mut(tenant)?;
        let (next, last) = ranges.first_mut()?;
        let n = *next;
        if *next >= *last {
            ranges.remove(0);
            if ranges.is_empty() {
                map.remove(tenant);
            }
        } else {
            *next += 1;
        }
        Some(n)
    }

    /// Keeps `next..=last` of `tenant` for later writes.
    fn put(&self, tenant: &Arc<str>, next: i64, last: i64) {
        if next > last {
            return;
        }
        let mut map = self.lock();
        if map.len() >= MAX_RESERVING_TENANTS && !map.contains_key(tenant) {
            map.clear();
        }
        let ranges = map.entry(tenant.clone()).or_default();
        let at = ranges.partition_point(|r| r.0 < next);
        ranges.insert(at, (next, last));
    }
}

impl PostgresUserStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with a pool of
    /// up to 10 connections, and brings the schema up to date.
    ///
    /// The pool does not test a connection before handing it out (`test_before_acquire`
    /// off: that test is a round trip per request); a connection the server has closed
    /// fails its next statement, that request gets a 500, and the connection leaves the
    /// pool. sqlx still tests each connection when it goes back to the pool, after the
    /// response. Statements are prepared once per connection and cached. A pool built
    /// by the host ([`PostgresUserStore::from_pool`]) keeps the host's settings.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is invalid, the server unreachable, or a
    /// migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::from_pool(connect_pool(url).await?).await
    }

    /// Connects with the given options, and brings the schema up to date.
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
            pool,
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
        &self.pool
    }

    /// Sets how many candidate rows may be checked in Rust for a filter that cannot be
    /// fully translated to SQL (default [`DEFAULT_FALLBACK_LIMIT`]).
    #[must_use]
    pub fn with_fallback_limit(mut self, limit: usize) -> Self {
        self.fallback_limit = limit;
        self
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

    /// The same store recording provisioning events ([`crate::events`]) in the outbox
    /// table `scimkit_outbox`, in the transaction of each create, replace and delete, for
    /// an [`EventDispatcher`](crate::events::EventDispatcher) to deliver. Off by default
    /// (no rows are written).
    ///
    /// The events are those of [`MemoryUserStore::with_outbox`](crate::MemoryUserStore::with_outbox),
    /// computed with [`events_for`](crate::events::events_for) from the stored user before
    /// the write and the user written, with one difference: `password` is not stored, so
    /// a write that carries one always lists `password` among the changed paths.
    ///
    /// Each write and its events are **one statement** (common table expressions: the
    /// user's row, then the outbox rows, inserted from arrays): one round trip, one
    /// transaction. A replace first reads the user it replaces, computes the events, and
    /// then swaps on the version it read, so the events describe exactly the change
    /// committed; when another writer comes between and no version was expected, it reads
    /// again (and after a few lost races locks the row `FOR UPDATE` in a transaction).
    ///
    /// # Replicas
    ///
    /// Every replica may write with the outbox on. Event ids increase in commit order
    /// across all of them: the rows are inserted under a transaction-scoped advisory lock,
    /// taken in the write statement just before they are, which serializes outbox writes
    /// for the time of that `INSERT` and the commit. That is what makes
    /// `acknowledge_events(through)` (delete every id up to `through`) safe: no smaller id
    /// can commit later.
    ///
    /// [`UserStore::pending_events`] reads without claiming rows, so run **one**
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

    /// The next value of the tenant's counter for a write: from this store's reserved
    /// block, or from a new block (one more round trip every [`BLOCK`] writes).
    async fn number(&self, tenant: &Arc<str>) -> Result<i64, StoreError> {
        if let Some(n) = self.numbers.take(tenant) {
            return Ok(n);
        }
        let last: i64 = sqlx::query_scalar(RESERVE)
            .bind(&**tenant)
            .bind(BLOCK)
            .fetch_one(&self.pool)
            .await
            .map_err(map_db_error)?;
        let first = last - (BLOCK - 1);
        self.numbers.put(tenant, first + 1, last);
        Ok(first)
    }

    /// Whether user `id` exists in the tenant: tells a failed compare-and-swap from a
    /// missing user.
    async fn exists(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM scimkit_users WHERE tenant = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_db_error)?;
        Ok(found.is_some())
    }

    /// A failed conditional write: the user is missing, or its version moved on.
    async fn miss(&self, tenant: &str, id: &str) -> StoreError {
        match self.exists(tenant, id).await {
            Ok(true) => StoreError::VersionMismatch,
            Ok(false) => StoreError::NotFound,
            Err(e) => e,
        }
    }

    /// The expected version number, or the error for an ETag no stored version has.
    async fn expected(
        &self,
        tenant: &str,
        id: &str,
        etag: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        match etag {
            None => Ok(None),
            Some(etag) => match parse_version(etag) {
                Some(v) => Ok(Some(v)),
                None => Err(self.miss(tenant, id).await),
            },
        }
    }
}

/// A pool of up to 10 connections to `url`.
pub(super) async fn connect_pool(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(map_db_error)?;
    pool_with(options).await
}

/// A pool of up to 10 connections with `options`.
///
/// Without `test_before_acquire`: sqlx would otherwise send a ping (one round trip) before
/// every use of a pooled connection, doubling the round trips of a GET. A connection
/// the server closed fails its next statement instead (a 500 for that one request), and
/// is dropped from the pool; idle connections are closed after 10 minutes and every
/// connection after 30 (sqlx's defaults), before servers or proxies usually drop them.
/// Statements are prepared once per connection and cached (sqlx's default, 100 per
/// connection), so a request sends only Bind/Execute/Sync.
pub(super) async fn pool_with(options: PgConnectOptions) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(10)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(map_db_error)
}

async fn current_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let table: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('scimkit_schema_migrations')::text")
            .fetch_one(&mut *conn)
            .await?;
    if table.is_none() {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::bigint FROM scimkit_schema_migrations")
        .fetch_one(conn)
        .await
}

/// Applies the migrations up to `target`.
pub(super) async fn migrate_to(pool: &PgPool, target: i64) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await.map_err(map_db_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(map_db_error)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS scimkit_schema_migrations (
            version     bigint PRIMARY KEY,
            description text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )",
    )
    .execute(&mut *tx)
    .await
    .map_err(map_db_error)?;
    let mut version = current_version(&mut tx).await.map_err(map_db_error)?;
    let applied = version;
    for Migration {
        version: v,
        description,
        sql,
    } in pending(POSTGRES, applied, target)
    {
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| {
            backend_msg(format!(
                "PostgreSQL migration {v} ({description}) failed: {e}"
            ))
        })?;
        sqlx::query("INSERT INTO scimkit_schema_migrations (version, description) VALUES ($1, $2)")
            .bind(v)
            .bind(description)
            .execute(&mut *tx)
            .await
            .map_err(map_db_error)?;
        version = *v;
    }
    tx.commit().await.map_err(map_db_error)?;
    Ok(version)
}

/// Binds `params` in order.
fn bind_all<'q>(mut q: Query<'q>, params: &'q [Param]) -> Query<'q> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s.as_str()),
            Param::Int(i) => q.bind(*i),
        };
    }
    q
}

fn read_user(row: &PgRow) -> Result<Arc<User>, StoreError> {
    let resource: &str = row.try_get("resource").map_err(map_db_error)?;
    let version: i64 = row.try_get("version").map_err(map_db_error)?;
    decode(resource, version).map(Arc::new)
}

/// A user of a list page (a row with `seq`, `resource` and `version`), with its
/// creation sequence, through the decoded users `kept`: the resource is not parsed when
/// its user is kept.
fn read_row(kept: &Decoded, tenant: &str, row: &PgRow) -> Result<(i64, Arc<User>), StoreError> {
    let seq: i64 = row.try_get("seq").map_err(map_db_error)?;
    let version: i64 = row.try_get("version").map_err(map_db_error)?;
    if let Some(user) = kept.get(tenant, seq, version) {
        return Ok((seq, user));
    }
    let resource: &str = row.try_get("resource").map_err(map_db_error)?;
    Ok((seq, kept.get_or_decode(tenant, seq, version, resource)?))
}

/// The columns of a row, in the order of [`bind_row`] (parameters `$3` to `$13`).
const ROW_COLUMNS: &str = "user_name, user_name_lower, external_id, active, created_s, created_ns, \
     modified_s, modified_ns, resource, search, present";
const ROW_VALUES: &str = "$3, $4, $5, $6, $7, $8, $9, $10, $11::json, $12::jsonb, $13";

fn bind_row<'q>(q: Query<'q>, e: &'q EncodedUser) -> Query<'q> {
    q.bind(e.user_name.as_str())
        .bind(e.user_name_lower.as_str())
        .bind(e.external_id.as_deref())
        .bind(e.active)
        .bind(e.created.map(|c| c.0))
        .bind(e.created.map(|c| c.1))
        .bind(e.modified.map(|c| c.0))
        .bind(e.modified.map(|c| c.1))
        .bind(e.resource.as_str())
        .bind(e.search.as_str())
        .bind(e.present.as_str())
}

const SELECT_USER: &str = "SELECT resource::text AS resource, version FROM scimkit_users AS u";

/// How many times `replace` with the outbox reads and compare-and-swaps before it locks
/// the row instead (only a write without an expected version retries).
const OPTIMISTIC_ATTEMPTS: usize = 3;

/// The create statement, one round trip: the row and (with `events`) the outbox rows.
/// Parameters: `$1` tenant, `$2` id, `$3`..`$13` the row, `$14` the tenant's counter value
/// (version and `seq`), then the outbox's arrays.
fn create_sql(events: bool) -> String {
    let o = if events {
        format!(", {}", outbox::postgres_rows_cte(15, "u"))
    } else {
        String::new()
    };
    format!(
        "WITH u AS (INSERT INTO scimkit_users (tenant, id, {ROW_COLUMNS}, version, seq) \
         VALUES ($1, $2, {ROW_VALUES}, $14, $14) RETURNING version){o} \
         SELECT version FROM u"
    )
}

/// The compare-and-swap replace, one round trip, that also tells a missing user from a
/// version mismatch: returns `version` (NULL when nothing was written) and `found`.
/// Parameters: `$1` tenant, `$2` id, `$3`..`$13` the row, `$14` the expected version
/// (NULL: any), `$15` the new version, then the outbox's arrays.
fn replace_sql(events: bool) -> String {
    let o = if events {
        format!(", {}", outbox::postgres_rows_cte(16, "upd"))
    } else {
        String::new()
    };
    format!(
        "WITH cur AS (SELECT version FROM scimkit_users WHERE tenant = $1 AND id = $2), \
         upd AS (UPDATE scimkit_users SET version = $15, ({ROW_COLUMNS}) = ({ROW_VALUES}) \
         WHERE tenant = $1 AND id = $2 AND ($14::bigint IS NULL OR version = $14) \
         RETURNING version){o} \
         SELECT (SELECT version FROM upd) AS version, EXISTS (SELECT 1 FROM cur) AS found"
    )
}

/// The compare-and-swap delete, one round trip, with its event (with `events`): returns
/// `deleted` and `found`. Parameters: `$1` tenant, `$2` id, `$3` the expected version
/// (NULL: any), then the outbox's.
fn delete_sql(events: bool) -> String {
    let o = if events {
        format!(", {}", outbox::postgres_deleted_cte(4, "del"))
    } else {
        String::new()
    };
    format!(
        "WITH cur AS (SELECT 1 FROM scimkit_users WHERE tenant = $1 AND id = $2), \
         del AS (DELETE FROM scimkit_users WHERE tenant = $1 AND id = $2 \
         AND ($3::bigint IS NULL OR version = $3) RETURNING id, user_name){o} \
         SELECT EXISTS (SELECT 1 FROM del) AS deleted, EXISTS (SELECT 1 FROM cur) AS found"
    )
}

/// `page` (a `SELECT <columns> FROM ...` of [`plan`]) with the total of `count` (the
/// same `WHERE`, with the same parameters) as an extra column `total`: the page and its
/// total in one round trip. The subquery runs once (an init plan), and not at all for an
/// empty page, whose total is then counted apart.
fn with_total(page: &str, count: &str) -> Option<String> {
    let rest = page.strip_prefix("SELECT ")?;
    Some(format!("SELECT ({count}) AS total, {rest}"))
}

/// `statement` (a page statement of [`plan`], with or without [`with_total`]) selecting
/// the rows' `seq` and `version` only, not their resources.
fn keys_only(statement: &str) -> Option<String> {
    let columns = page_columns(Dialect::Postgres);
    statement
        .contains(columns)
        .then(|| statement.replacen(columns, "u.seq AS seq, u.version AS version", 1))
}

/// Runs the replace statement of [`replace_sql`]: the new version if written, and
/// whether the user exists.
async fn swap(
    conn: &mut PgConnection,
    tenant: &str,
    id: &str,
    row: &EncodedUser,
    expected: Option<i64>,
    version: i64,
    events: &[outbox::NewRow],
) -> Result<(Option<i64>, bool), StoreError> {
    let sql = replace_sql(!events.is_empty());
    let q = bind_row(sqlx::query(&sql).bind(tenant).bind(id), row)
        .bind(expected)
        .bind(version);
    let q = if events.is_empty() {
        q
    } else {
        outbox::bind_postgres_rows(q, events)
    };
    let r = q.fetch_one(conn).await.map_err(map_db_error)?;
    let version: Option<i64> = r.try_get("version").map_err(map_db_error)?;
    let found: bool = r.try_get("found").map_err(map_db_error)?;
    Ok((version, found))
}

/// A page's users with their `seq`, and its total when the statement counted it.
type FetchedPage = (Vec<(i64, Arc<User>)>, Option<usize>);

/// The resources of rows `$2` (their `seq`) of tenant `$1`.
const RESOURCES_BY_SEQ: &str = "SELECT seq, resource::text AS resource, version \
     FROM scimkit_users WHERE tenant = $1 AND seq = ANY($2)";

impl PostgresUserStore {
    /// Runs a page `statement` of [`plan`] (with a `total` column when `total`): one round
    /// trip, the page's resources included.
    async fn page(
        &self,
        tenant: &str,
        statement: &str,
        params: &[Param],
        total: bool,
    ) -> Result<FetchedPage, StoreError> {
        let fetched = bind_all(sqlx::query(statement), params)
            .fetch_all(&self.pool)
            .await
            .map_err(map_db_error)?;
        let counted = match (total, fetched.first()) {
            (true, Some(r)) => Some(to_usize(r.try_get("total").map_err(map_db_error)?)),
            _ => None,
        };
        let rows = fetched
            .iter()
            .map(|r| read_row(&self.decoded, tenant, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, counted))
    }

    /// Runs a page `statement` through the decoded users: first without the resources
    /// (the rows' `seq` and `version`, and the total: one round trip carrying a few bytes
    /// per user), then, only for users not kept at that version, their resources by `seq`
    /// (a second round trip). A page of users read before, an identity provider's
    /// repeated import, is thus one small round trip and no parsing. `None` (run the
    /// statement whole instead) when a row changed or went away between the two.
    async fn page_through_kept(
        &self,
        tenant: &str,
        statement: &str,
        params: &[Param],
        total: bool,
    ) -> Result<Option<FetchedPage>, StoreError> {
        let Some(keys) = keys_only(statement) else {
            return Ok(None);
        };
        let fetched = bind_all(sqlx::query(&keys), params)
            .fetch_all(&self.pool)
            .await
            .map_err(map_db_error)?;
        let counted = match (total, fetched.first()) {
            (true, Some(r)) => Some(to_usize(r.try_get("total").map_err(map_db_error)?)),
            _ => None,
        };
        let mut rows = Vec::with_capacity(fetched.len());
        let mut missing = Vec::new();
        for r in &fetched {
            let seq: i64 = r.try_get("seq").map_err(map_db_error)?;
            let version: i64 = r.try_get("version").map_err(map_db_error)?;
            let user = self.decoded.get(tenant, seq, version);
            if user.is_none() {
                missing.push(seq);
            }
            rows.push((seq, version, user));
        }
        if !missing.is_empty() {
            let read = sqlx::query(RESOURCES_BY_SEQ)
                .bind(tenant)
                .bind(&missing)
                .fetch_all(&self.pool)
                .await
                .map_err(map_db_error)?;
            let mut by_seq = HashMap::with_capacity(read.len());
            for r in &read {
                let seq: i64 = r.try_get("seq").map_err(map_db_error)?;
                by_seq.insert(seq, r);
            }
            for (seq, version, user) in &mut rows {
                if user.is_some() {
                    continue;
                }
                let Some(r) = by_seq.get(seq) else {
                    return Ok(None);
                };
                let read_version: i64 = r.try_get("version").map_err(map_db_error)?;
                if read_version != *version {
                    return Ok(None);
                }
                let resource: &str = r.try_get("resource").map_err(map_db_error)?;
                *user = Some(
                    self.decoded
                        .get_or_decode(tenant, *seq, *version, resource)?,
                );
            }
        }
        let rows = rows
            .into_iter()
            .map(|(seq, _, user)| user.map(|u| (seq, u)))
            .collect::<Option<Vec<_>>>();
        Ok(rows.map(|rows| (rows, counted)))
    }

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
    ) -> Result<Option<Arc<User>>, StoreError> {
        let lock = if lock { " FOR UPDATE" } else { "" };
        let current = sqlx::query(&format!(
            "{SELECT_USER} WHERE tenant = $1 AND id = $2{lock}"
        ))
        .bind(&*ctx.tenant)
        .bind(row.id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_db_error)?
        .ok_or(StoreError::NotFound)?;
        let read: i64 = current.try_get("version").map_err(map_db_error)?;
        if expected.is_some_and(|e| e != read) {
            return Err(StoreError::VersionMismatch);
        }
        let before = read_user(&current)?;
        let mut written = as_stored(user.clone(), read);
        written.password = user.password.clone();
        let events = outbox::rows_for(ctx, Some(&before), Some(&written))?;
        match swap(
            conn,
            &ctx.tenant,
            &row.id,
            row,
            Some(read),
            version,
            &events,
        )
        .await?
        {
            (Some(version), _) => Ok(Some(Arc::new(as_stored(user.clone(), version)))),
            (None, true) if expected.is_none() => Ok(None),
            (None, true) => Err(StoreError::VersionMismatch),
            (None, false) => Err(StoreError::NotFound),
        }
    }

    /// `replace` with the outbox: two round trips (read, then swap with events) unless
    /// writers keep racing on the user without an expected version, which then end in
    /// a transaction that locks the row.
    async fn replace_with_events(
        &self,
        ctx: &RequestContext,
        user: User,
        expected: Option<i64>,
    ) -> Result<Arc<User>, StoreError> {
        let row = encode(&user, ctx.schemas())?;
        // One value for every attempt: it is written at most once.
        let version = self.number(&ctx.tenant).await?;
        let mut conn = self.pool.acquire().await.map_err(map_db_error)?;
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            if let Some(stored) =
                Self::replace_once(&mut conn, ctx, &user, &row, expected, version, false).await?
            {
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
        Ok(stored)
    }
}

#[async_trait]
impl UserStore for PostgresUserStore {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        let row = encode(&user, ctx.schemas())?;
        // A create's events do not depend on the version (`meta` is not compared).
        let events = if self.outbox {
            outbox::rows_for(ctx, None, Some(&user))?
        } else {
            Vec::new()
        };
        let number = self.number(&ctx.tenant).await?;
        let sql = create_sql(!events.is_empty());
        let q = bind_row(
            sqlx::query(&sql).bind(&*ctx.tenant).bind(row.id.as_str()),
            &row,
        )
        .bind(number);
        let q = if events.is_empty() {
            q
        } else {
            outbox::bind_postgres_rows(q, &events)
        };
        let version: i64 = q
            .fetch_one(&self.pool)
            .await
            .map_err(map_db_error)?
            .try_get(0)
            .map_err(map_db_error)?;
        Ok(Arc::new(as_stored(user, version)))
    }

    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        sqlx::query(
            "SELECT seq, resource::text AS resource, version FROM scimkit_users \
             WHERE tenant = $1 AND id = $2",
        )
        .bind(&*ctx.tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_db_error)?
        .map(|row| read_row(&self.decoded, &ctx.tenant, &row).map(|(_, u)| u))
        .transpose()
    }

    async fn replace(
        &self,
        ctx: &RequestContext,
        user: User,
        expected_version: Option<&str>,
    ) -> Result<Arc<User>, StoreError> {
        let Some(id) = user.id.clone() else {
            return Err(StoreError::NotFound);
        };
        let expected = self.expected(&ctx.tenant, &id, expected_version).await?;
        if self.outbox {
            return self.replace_with_events(ctx, user, expected).await;
        }
        let row = encode(&user, ctx.schemas())?;
        let version = self.number(&ctx.tenant).await?;
        let mut conn = self.pool.acquire().await.map_err(map_db_error)?;
        match swap(&mut conn, &ctx.tenant, &id, &row, expected, version, &[]).await? {
            (Some(version), _) => Ok(Arc::new(as_stored(user, version))),
            (None, true) => Err(StoreError::VersionMismatch),
            (None, false) => Err(StoreError::NotFound),
        }
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        let expected = self.expected(&ctx.tenant, id, expected_version).await?;
        let sql = delete_sql(self.outbox);
        let q = sqlx::query(&sql).bind(&*ctx.tenant).bind(id).bind(expected);
        let q = if self.outbox {
            outbox::bind_postgres_deleted(q, ctx)?
        } else {
            q
        };
        let r = q.fetch_one(&self.pool).await.map_err(map_db_error)?;
        let deleted: bool = r.try_get("deleted").map_err(map_db_error)?;
        let found: bool = r.try_get("found").map_err(map_db_error)?;
        match (deleted, found) {
            (true, _) => Ok(()),
            (false, true) => Err(StoreError::VersionMismatch),
            (false, false) => Err(StoreError::NotFound),
        }
    }

    fn supports_cursors(&self) -> bool {
        true
    }

    async fn pending_events(&self, limit: usize) -> Result<Vec<ProvisioningEvent>, StoreError> {
        outbox::pending_postgres(&self.pool, limit).await
    }

    async fn acknowledge_events(&self, through: u64) -> Result<(), StoreError> {
        outbox::acknowledge_postgres(&self.pool, through).await
    }

    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        match plan(query, &ctx.tenant, Dialect::Postgres, ctx.schemas())? {
            Plan::Empty => Ok(query.page(std::iter::empty())),
            Plan::Rust { sql, params } => {
                let rows = bind_all(sqlx::query(&sql), &params)
                    .bind(to_i64(self.fallback_limit.saturating_add(1)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_db_error)?;
                let users = rows
                    .iter()
                    .map(|r| read_row(&self.decoded, &ctx.tenant, r).map(|(_, u)| u))
                    .collect::<Result<_, _>>()?;
                page_in_rust(query, self.fallback_limit, users, ctx.schemas())
            }
            Plan::Sql {
                page,
                count,
                paging,
            } => {
                let (count_sql, count_params) = &count;
                let (rows, counted) = match &page {
                    Some((sql, params)) => {
                        // A first page of `userName eq`/`id eq` (at most one user) with
                        // room for more than one tells its total by itself: no count.
                        let unique = query.filter.as_ref().is_some_and(|f| {
                            f.equality_on("userName").is_some() || f.equality_on("id").is_some()
                        });
                        let first = match paging {
                            Paging::Offset { offset, .. } => offset == 0,
                            Paging::Keyset { first } => first,
                        };
                        let combined = (!(unique && first && query.count > 1))
                            .then(|| with_total(sql, count_sql))
                            .flatten();
                        let statement = combined.as_deref().unwrap_or(sql);
                        let total = combined.is_some();
                        // A `userName eq`/`id eq` page (an identity provider's lookup
                        // before a write) stays one round trip, read or not.
                        let kept = if !unique && query.count <= self.decoded.capacity() / 2 {
                            self.page_through_kept(&ctx.tenant, statement, params, total)
                                .await?
                        } else {
                            None
                        };
                        match kept {
                            Some(page) => page,
                            None => self.page(&ctx.tenant, statement, params, total).await?,
                        }
                    }
                    None => (Vec::new(), None),
                };
                let (mut page, known) = finish_page(query, &paging, rows);
                let total = match known.or(counted) {
                    Some(total) => total,
                    // No page (count=0) or an empty one (past the end): count apart.
                    None => {
                        let n: i64 = bind_all(sqlx::query(count_sql), count_params)
                            .fetch_one(&self.pool)
                            .await
                            .map_err(map_db_error)?
                            .try_get(0)
                            .map_err(map_db_error)?;
                        to_usize(n)
                    }
                };
                set_total(&mut page, &paging, total);
                Ok(page)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::filter::parse;
    use crate::resource::{Meta, MultiValue};
    use crate::store::sql::list_sql::{Plan, plan};

    /// A pool on a new schema of the test server, or `None` when there is none to use.
    async fn pool() -> Option<(PgPool, PgPool, String)> {
        let configured = std::env::var("SCIMKIT_TEST_DATABASE_URL")
            .or_else(|_| std::env::var("SCIMKIT_POSTGRES_URL"))
            .ok();
        let url = configured
            .clone()
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
        let admin = match PgPool::connect(&url).await {
            Ok(p) => p,
            Err(e) if configured.is_none() => {
                eprintln!("skipped: no PostgreSQL at {url} ({e})");
                return None;
            }
            Err(e) => panic!("{url}: {e}"),
        };
        let schema = format!("scimkit_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = PgPool::connect_with(options).await.unwrap();
        Some((admin, pool, schema))
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn indexed_filters_use_their_index() {
        runtime().block_on(async {
            let Some((admin, pool, schema)) = pool().await else {
                return;
            };
            let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
            let c = RequestContext::system("t");
            for i in 0..50 {
                let mut u = User::new(format!("u{i}"));
                u.id = Some(format!("id{i}").into());
                u.meta = Some(Meta::new("User", chrono::Utc::now()));
                u.emails = vec![MultiValue::typed(format!("u{i}@example.com"), "work")];
                store.create(&c, u).await.unwrap();
            }
            sqlx::query("ANALYZE scimkit_users")
                .execute(&pool)
                .await
                .unwrap();
            for (filter, index) in [
                (r#"userName eq "U7""#, "scimkit_users_user_name_key"),
                (r#"externalId eq "x""#, "scimkit_users_external_id"),
                (r#"id eq "x""#, "scimkit_users_pkey"),
                (
                    r#"emails.value eq "U7@example.com""#,
                    "scimkit_users_emails",
                ),
            ] {
                let q = ListQuery::all(10).with_filter(parse(filter).unwrap());
                // With sequential scans priced out, a plan without the index means the
                // condition cannot use it.
                let lines = explain_without_seq_scans(&pool, &q).await;
                assert!(
                    lines.iter().any(|l| l.contains(index)),
                    "{filter}: {lines:#?}"
                );
            }
            pool.close().await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        });
    }

    /// The lines of `EXPLAIN` for the page statement of `q` (tenant `t`), with
    /// sequential scans priced out for the transaction.
    async fn explain_without_seq_scans(pool: &PgPool, q: &ListQuery) -> Vec<String> {
        let Plan::Sql {
            page: Some((sql, params)),
            ..
        } = plan(q, "t", Dialect::Postgres, crate::schema::SchemaSet::core()).unwrap()
        else {
            panic!("{q:?} is planned in SQL");
        };
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL enable_seqscan = off")
            .execute(&mut *tx)
            .await
            .unwrap();
        let explain = format!("EXPLAIN {sql}");
        bind_all(sqlx::query(&explain), &params)
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>(0).unwrap())
            .collect()
    }

    #[test]
    fn pages_sorted_by_a_name_read_their_index_without_sorting() {
        runtime().block_on(async {
            let Some((admin, pool, schema)) = pool().await else {
                return;
            };
            PostgresUserStore::from_pool(pool.clone()).await.unwrap();
            for (by, index) in [
                ("name.familyName", "scimkit_users_family_name"),
                ("name.givenName", "scimkit_users_given_name"),
                ("displayName", "scimkit_users_display_name"),
            ] {
                let q = ListQuery::all(100)
                    .starting_at(101)
                    .sorted_by(crate::sort::SortSpec::parse(by, None).unwrap());
                // On an empty table a sequential scan and a sort cost nothing: priced
                // out, the plan shows whether an index gives the order.
                let lines = explain_without_seq_scans(&pool, &q).await;
                assert!(
                    lines.iter().any(|l| l.contains(index))
                        && !lines.iter().any(|l| l.contains("Sort  (")),
                    "sortBy={by}: {lines:#?}"
                );
            }
            pool.close().await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        });
    }

    #[test]
    fn users_read_are_decoded_once_per_version_and_tenant() {
        runtime().block_on(async {
            let Some((admin, pool, schema)) = pool().await else {
                return;
            };
            let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
            let a = RequestContext::system("a");
            let b = RequestContext::system("b");
            for (c, name) in [(&a, "a0"), (&a, "a1"), (&b, "b0")] {
                let mut u = User::new(name);
                u.id = Some(format!("id-{name}").into());
                u.meta = Some(Meta::new("User", chrono::Utc::now()));
                store.create(c, u).await.unwrap();
            }
            let page = |c: RequestContext| {
                let store = store.clone();
                async move { store.list(&c, &ListQuery::all(10)).await.unwrap().resources }
            };
            let first = page(a.clone()).await;
            let again = page(a.clone()).await;
            assert!(
                first.iter().zip(&again).all(|(x, y)| Arc::ptr_eq(x, y)),
                "a page read twice is decoded once"
            );
            let got = store.get(&a, "id-a0").await.unwrap().unwrap();
            assert!(
                Arc::ptr_eq(&got, &first[0]),
                "a GET hands out the kept user"
            );
            // Both tenants' first rows may share a row number and a version: each tenant
            // gets its own user.
            let other = page(b.clone()).await;
            assert_eq!(other.len(), 1);
            assert_eq!(other[0].user_name, "b0");
            // A replace gives the row a new version: the next read shows the new content.
            let mut changed = User::clone(&first[0]);
            changed.display_name = Some("Changed".into());
            store.replace(&a, changed, None).await.unwrap();
            let after = page(a.clone()).await;
            assert_eq!(after[0].display_name.as_deref(), Some("Changed"));
            assert_ne!(after[0].version(), first[0].version());
            assert!(
                Arc::ptr_eq(&after[1], &first[1]),
                "the other user is still kept"
            );
            // A store keeping none decodes every read.
            let none = store.clone().with_decoded_users(0);
            let x = none.get(&a, "id-a1").await.unwrap().unwrap();
            let y = none.get(&a, "id-a1").await.unwrap().unwrap();
            assert!(!Arc::ptr_eq(&x, &y));
            assert_eq!(x, y);
            pool.close().await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        });
    }

    #[test]
    fn a_page_whose_rows_change_between_keys_and_resources_is_read_whole() {
        runtime().block_on(async {
            let Some((admin, pool, schema)) = pool().await else {
                return;
            };
            let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
            let c = RequestContext::system("t");
            for i in 0..3 {
                let mut u = User::new(format!("u{i}"));
                u.id = Some(format!("id{i}").into());
                u.meta = Some(Meta::new("User", chrono::Utc::now()));
                store.create(&c, u).await.unwrap();
            }
            let columns = page_columns(Dialect::Postgres);
            let params = [Param::Text("t".into())];
            let page = |rows: &str| format!("SELECT {columns} FROM ({rows}) AS u ORDER BY u.seq");
            let plain = page("SELECT * FROM scimkit_users WHERE tenant = $1");
            let (rows, _) = store
                .page_through_kept("t", &plain, &params, false)
                .await
                .unwrap()
                .expect("nothing changed");
            let names: Vec<_> = rows.iter().map(|(_, u)| u.user_name.as_str()).collect();
            assert_eq!(names, ["u0", "u1", "u2"]);
            // The keys name a version (or a row) the resources no longer have, as after a
            // replace (or a delete) between the two statements: neither is handed out.
            for rows in [
                "SELECT seq, resource, version + 1000 AS version FROM scimkit_users \
                 WHERE tenant = $1 AND id = 'id1'",
                "SELECT seq + 1000 AS seq, resource, version FROM scimkit_users \
                 WHERE tenant = $1 AND id = 'id2'",
            ] {
                let fresh = store.clone().with_decoded_users(64);
                let changed = fresh
                    .page_through_kept("t", &page(rows), &params, false)
                    .await
                    .unwrap();
                assert!(changed.is_none(), "{rows}");
            }
            pool.close().await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        });
    }

    #[test]
    fn reserved_numbers_are_handed_out_once_smallest_first() {
        let numbers = Numbers::default();
        let t: Arc<str> = Arc::from("t");
        assert_eq!(numbers.take("t"), None);
        numbers.put(&t, 130, 131);
        numbers.put(&t, 2, 3);
        numbers.put(&t, 5, 4); // empty
        numbers.put(&Arc::from("other"), 7, 7);
        let got: Vec<i64> = std::iter::from_fn(|| numbers.take("t")).collect();
        assert_eq!(got, [2, 3, 130, 131]);
        assert_eq!(numbers.take("other"), Some(7));
        assert!(numbers.lock().is_empty(), "exhausted tenants are forgotten");
    }

    /// A create as scimkit wrote it before migration 5 (versions from the database-wide
    /// sequence, `seq` from the identity column).
    async fn legacy_create(pool: &PgPool, tenant: &str, id: &str, user_name: &str) -> i64 {
        let mut u = User::new(user_name);
        u.id = Some(id.into());
        u.meta = Some(Meta::new("User", chrono::Utc::now()));
        u.emails = vec![MultiValue::typed(
            format!("{user_name}@Example.com"),
            "work",
        )];
        let row = encode(&u, crate::schema::SchemaSet::core()).unwrap();
        let sql = format!(
            "INSERT INTO scimkit_users (tenant, id, {ROW_COLUMNS}, version) \
             VALUES ($1, $2, {ROW_VALUES}, nextval('scimkit_user_version')) RETURNING version"
        );
        bind_row(sqlx::query(&sql).bind(tenant).bind(id), &row)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    #[test]
    fn a_version_1_database_is_upgraded_with_its_data() {
        runtime().block_on(async {
            let Some((admin, pool, schema)) = pool().await else {
                return;
            };
            assert_eq!(migrate_to(&pool, 1).await.unwrap(), 1);
            legacy_create(&pool, "t", "old-id", "Old").await;
            let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
            assert_eq!(
                PostgresUserStore::schema_version(&pool).await.unwrap(),
                PostgresUserStore::latest_schema_version()
            );
            let c = RequestContext::system("t");
            let q =
                ListQuery::all(10).with_filter(parse(r#"emails eq "old@example.com""#).unwrap());
            let page = store.list(&c, &q).await.unwrap();
            assert_eq!(page.total_results, 1);
            pool.close().await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        });
    }

    #[test]
    fn after_the_upgrade_to_tenant_counters_no_version_is_reused_and_new_users_sort_last() {
        runtime().block_on(async {
            let Some((admin, pool, schema)) = pool().await else {
                return;
            };
            assert_eq!(migrate_to(&pool, 4).await.unwrap(), 4);
            let a = legacy_create(&pool, "t", "a", "a").await;
            legacy_create(&pool, "t2", "b", "b").await;
            // The highest version ever handed out belonged to a user deleted since.
            let gone = legacy_create(&pool, "t2", "gone", "gone").await;
            sqlx::query("DELETE FROM scimkit_users WHERE id = 'gone'")
                .execute(&pool)
                .await
                .unwrap();
            assert!(gone > a);
            let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
            let version = |u: &User| parse_version(u.version().unwrap()).unwrap();
            for tenant in ["t", "t2", "new-tenant"] {
                let c = RequestContext::system(tenant);
                let mut u = User::new("fresh");
                u.id = Some(format!("fresh-{tenant}").into());
                u.meta = Some(Meta::new("User", chrono::Utc::now()));
                let created = store.create(&c, u).await.unwrap();
                assert!(version(&created) > gone, "{tenant}: {created:?}");
            }
            let c = RequestContext::system("t2");
            let mut again = User::new("gone");
            again.id = Some("gone".into());
            again.meta = Some(Meta::new("User", chrono::Utc::now()));
            let again = store.create(&c, again).await.unwrap();
            assert!(version(&again) > gone, "a re-created id gets a new version");
            let c = RequestContext::system("t");
            let old = store.get(&c, "a").await.unwrap().unwrap();
            let replaced = store.replace(&c, User::clone(&old), None).await.unwrap();
            assert!(version(&replaced) > gone);
            // Keyset pages: the users of before the upgrade first, then the new one.
            let ids: Vec<String> = store
                .list(
                    &c,
                    &ListQuery {
                        cursor: Some(String::new()),
                        ..ListQuery::all(10)
                    },
                )
                .await
                .unwrap()
                .resources
                .iter()
                .map(|u| u.id.as_deref().unwrap().to_owned())
                .collect();
            assert_eq!(ids, ["a", "fresh-t"]);
            pool.close().await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        });
    }
}
