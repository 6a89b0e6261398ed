//! [`PostgresUserStore`]: users in PostgreSQL, shared by any number of scimkit replicas.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row};

use super::encode::{EncodedUser, as_stored, decode, encode, parse_version};
use super::filter_sql::{Dialect, Param};
use super::list_sql::{Plan, finish_page, page_in_rust, plan, set_total};
use super::migrations::{Migration, POSTGRES};
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
///   `UPDATE`/`DELETE ... WHERE tenant = ? AND id = ? AND version = ?`. Versions come from
///   one database-wide counter (`meta.version` is `W/"<n>"`), so none is ever reused for
///   a resource, not even after a delete and a re-create with the same id.
/// - **Tenants**: every statement has `tenant = ?` in its `WHERE` clause.
/// - **Filters run in SQL**, with bound parameters, for every core and Enterprise User
///   attribute, with the answers of [`Filter::matches`](crate::Filter::matches):
///   `and`/`or`/`not`, `pr`, every operator (`co`/`sw`/`ew` as escaped `LIKE`),
///   `caseExact`-aware comparisons that agree with Rust's Unicode lower-casing (strings are
///   stored folded beside the resource, not compared with SQL `lower()`), instants as
///   instants, multi-valued attributes and value filters (`emails[type eq "work" and
///   value co "@x"]`) through the JSON functions. `userName`, `externalId`, `id` and
///   `emails.value` equality use indexes. `totalResults` is a `COUNT(*)`; `startIndex`
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
}

impl PostgresUserStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with a pool of
    /// up to 10 connections, and brings the schema up to date.
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

    /// The same store recording provisioning events ([`crate::events`]) in the outbox
    /// table `scimkit_outbox`, in the transaction of each create, replace and delete, for
    /// an [`EventDispatcher`](crate::events::EventDispatcher) to deliver. Off by default
    /// (no rows are written).
    ///
    /// The events are those of [`MemoryUserStore::with_outbox`](crate::MemoryUserStore::with_outbox),
    /// computed with [`events_for`](crate::events::events_for) from the stored user before
    /// the write (read `FOR UPDATE` in the write's transaction) and the user written, with
    /// one difference: `password` is not stored, so a write that carries one always lists
    /// `password` among the changed paths.
    ///
    /// # Replicas
    ///
    /// Every replica may write with the outbox on. Event ids increase in commit order
    /// across all of them: the rows are inserted under a transaction-scoped advisory lock,
    /// taken as the last step of the write, which serializes outbox writes for the time of
    /// one `INSERT` and the commit. That is what makes `acknowledge_events(through)`
    /// (delete every id up to `through`) safe: no smaller id can commit later.
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

    /// `user` as stored with `version`, after recording the events of the write from
    /// `before` (`None` for a create) in the transaction `tx`.
    async fn stored_with_events(
        tx: &mut PgConnection,
        ctx: &RequestContext,
        before: Option<&User>,
        user: User,
        version: i64,
    ) -> Result<User, StoreError> {
        let password = user.password.clone();
        let stored = as_stored(user, version);
        let mut written = stored.clone();
        written.password = password;
        let rows = outbox::rows_for(ctx, before, Some(&written))?;
        outbox::insert_postgres(tx, &rows).await?;
        Ok(stored)
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

    /// `delete` with the outbox: the row deleted and its event in one transaction.
    async fn delete_with_events(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_db_error)?;
        let deleted = sqlx::query(
            "DELETE FROM scimkit_users WHERE tenant = $1 AND id = $2 \
             AND ($3::bigint IS NULL OR version = $3) RETURNING resource::text AS resource, version",
        )
        .bind(&*ctx.tenant)
        .bind(id)
        .bind(expected)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_db_error)?;
        let Some(row) = deleted else {
            drop(tx);
            return Err(self.miss(&ctx.tenant, id).await);
        };
        let before = read_user(&row)?;
        let rows = outbox::rows_for(ctx, Some(&before), None)?;
        outbox::insert_postgres(&mut tx, &rows).await?;
        tx.commit().await.map_err(map_db_error)?;
        Ok(())
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
pub(super) async fn pool_with(options: PgConnectOptions) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(10)
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
    let pending = POSTGRES
        .iter()
        .filter(|m| m.version > applied && m.version <= target);
    for Migration {
        version: v,
        description,
        sql,
    } in pending
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

/// A user of a list page, with its creation sequence.
fn read_row(row: &PgRow) -> Result<(i64, Arc<User>), StoreError> {
    let seq: i64 = row.try_get("seq").map_err(map_db_error)?;
    Ok((seq, read_user(row)?))
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

#[async_trait]
impl UserStore for PostgresUserStore {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        let row = encode(&user)?;
        let sql = format!(
            "INSERT INTO scimkit_users (tenant, id, {ROW_COLUMNS}, version) \
             VALUES ($1, $2, {ROW_VALUES}, nextval('scimkit_user_version')) RETURNING version"
        );
        let q = sqlx::query(&sql).bind(&*ctx.tenant).bind(row.id.as_str());
        if !self.outbox {
            let version: i64 = bind_row(q, &row)
                .fetch_one(&self.pool)
                .await
                .map_err(map_db_error)?
                .try_get(0)
                .map_err(map_db_error)?;
            return Ok(Arc::new(as_stored(user, version)));
        }
        let mut tx = self.pool.begin().await.map_err(map_db_error)?;
        let version: i64 = bind_row(q, &row)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_db_error)?
            .try_get(0)
            .map_err(map_db_error)?;
        let stored = Self::stored_with_events(&mut tx, ctx, None, user, version).await?;
        tx.commit().await.map_err(map_db_error)?;
        Ok(Arc::new(stored))
    }

    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        let sql = format!("{SELECT_USER} WHERE tenant = $1 AND id = $2");
        sqlx::query(&sql)
            .bind(&*ctx.tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_db_error)?
            .map(|row| read_user(&row))
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
        let row = encode(&user)?;
        let sql = format!(
            "UPDATE scimkit_users SET version = nextval('scimkit_user_version'), \
             ({ROW_COLUMNS}) = ({ROW_VALUES}) \
             WHERE tenant = $1 AND id = $2 AND ($14::bigint IS NULL OR version = $14) \
             RETURNING version"
        );
        let q = sqlx::query(&sql).bind(&*ctx.tenant).bind(id.as_str());
        if !self.outbox {
            let updated = bind_row(q, &row)
                .bind(expected)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_db_error)?;
            return match updated {
                Some(r) => {
                    let version: i64 = r.try_get(0).map_err(map_db_error)?;
                    Ok(Arc::new(as_stored(user, version)))
                }
                None => Err(self.miss(&ctx.tenant, &id).await),
            };
        }
        // With the outbox: the user before the write, locked until the commit, so that
        // writes of one user record their events in commit order.
        let mut tx = self.pool.begin().await.map_err(map_db_error)?;
        let current = sqlx::query(&format!(
            "{SELECT_USER} WHERE tenant = $1 AND id = $2 FOR UPDATE"
        ))
        .bind(&*ctx.tenant)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_db_error)?;
        let Some(current) = current else {
            return Err(StoreError::NotFound);
        };
        let before = read_user(&current)?;
        let updated = bind_row(q, &row)
            .bind(expected)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_db_error)?;
        let Some(updated) = updated else {
            // The row is locked and exists: only the version can differ.
            return Err(StoreError::VersionMismatch);
        };
        let version: i64 = updated.try_get(0).map_err(map_db_error)?;
        let stored = Self::stored_with_events(&mut tx, ctx, Some(&before), user, version).await?;
        tx.commit().await.map_err(map_db_error)?;
        Ok(Arc::new(stored))
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        let expected = self.expected(&ctx.tenant, id, expected_version).await?;
        if self.outbox {
            return self.delete_with_events(ctx, id, expected).await;
        }
        let done = sqlx::query(
            "DELETE FROM scimkit_users WHERE tenant = $1 AND id = $2 \
             AND ($3::bigint IS NULL OR version = $3)",
        )
        .bind(&*ctx.tenant)
        .bind(id)
        .bind(expected)
        .execute(&self.pool)
        .await
        .map_err(map_db_error)?;
        if done.rows_affected() == 0 {
            return Err(self.miss(&ctx.tenant, id).await);
        }
        Ok(())
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
        match plan(query, &ctx.tenant, Dialect::Postgres)? {
            Plan::Empty => Ok(query.page(std::iter::empty())),
            Plan::Rust { sql, params } => {
                let rows = bind_all(sqlx::query(&sql), &params)
                    .bind(to_i64(self.fallback_limit.saturating_add(1)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_db_error)?;
                let users = rows.iter().map(read_user).collect::<Result<_, _>>()?;
                page_in_rust(query, self.fallback_limit, users)
            }
            Plan::Sql {
                page,
                count,
                paging,
            } => {
                let rows = match &page {
                    Some((sql, params)) => bind_all(sqlx::query(sql), params)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_db_error)?
                        .iter()
                        .map(read_row)
                        .collect::<Result<Vec<_>, _>>()?,
                    None => Vec::new(),
                };
                let (mut page, known) = finish_page(query, &paging, rows);
                let total = match known {
                    Some(total) => total,
                    _ => {
                        let (sql, params) = &count;
                        let n: i64 = bind_all(sqlx::query(sql), params)
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
                let Plan::Sql {
                    page: Some((sql, params)),
                    ..
                } = plan(&q, "t", Dialect::Postgres).unwrap()
                else {
                    panic!("{filter} is planned in SQL");
                };
                let mut tx = pool.begin().await.unwrap();
                // With sequential scans priced out, a plan without the index means the
                // condition cannot use it.
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                let explain = format!("EXPLAIN {sql}");
                let lines: Vec<String> = bind_all(sqlx::query(&explain), &params)
                    .fetch_all(&mut *tx)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.try_get::<String, _>(0).unwrap())
                    .collect();
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

    #[test]
    fn a_version_1_database_is_upgraded_with_its_data() {
        runtime().block_on(async {
            let Some((admin, pool, schema)) = pool().await else {
                return;
            };
            assert_eq!(migrate_to(&pool, 1).await.unwrap(), 1);
            let v1 = PostgresUserStore {
                pool: pool.clone(),
                fallback_limit: DEFAULT_FALLBACK_LIMIT,
                outbox: false,
            };
            let c = RequestContext::system("t");
            let mut u = User::new("old");
            u.id = Some("old-id".into());
            u.emails = vec![MultiValue::typed("Old@Example.com", "work")];
            v1.create(&c, u).await.unwrap();
            let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
            assert_eq!(
                PostgresUserStore::schema_version(&pool).await.unwrap(),
                PostgresUserStore::latest_schema_version()
            );
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
}
