//! [`SqliteUserStore`]: users in one SQLite file.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite};

use super::encode::{EncodedUser, as_stored, decode, encode, parse_version};
use super::filter_sql::{Dialect, Param};
use super::list_sql::{Plan, finish_page, page_in_rust, plan, set_total};
use super::migrations::{Migration, SQLITE};
use super::outbox;
use super::{DEFAULT_FALLBACK_LIMIT, backend_msg, map_db_error, to_i64, to_usize};
use crate::events::ProvisioningEvent;
use crate::list::{ListPage, ListQuery};
use crate::resource::User;
use crate::store::{RequestContext, StoreError, UserStore};

/// How long a connection waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`UserStore`] in SQLite: one file (WAL mode), or memory for tests.
///
/// Several processes may open the same file: uniqueness, compare-and-swap and versions
/// are enforced by the database, with the contract of the [`crate::store`] module.
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
/// ```
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::store::SqliteUserStore;
/// let store = SqliteUserStore::open("/tmp/scimkit-doc-example.db").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteUserStore {
    pool: SqlitePool,
    fallback_limit: usize,
    /// Whether writes record provisioning events in `scimkit_outbox`.
    outbox: bool,
}

impl SqliteUserStore {
    /// Opens (creating it if missing) the database file at `path`, in WAL mode with a busy
    /// timeout, and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the file cannot be opened or migrated.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::from_pool(open_pool(path.as_ref()).await?).await
    }

    /// A private in-memory database (one connection), for tests and demos.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if SQLite cannot be started.
    pub async fn in_memory() -> Result<Self, StoreError> {
        Self::from_pool(connect_pool("sqlite::memory:").await?).await
    }

    /// Opens a database by URL: `sqlite://PATH` (created if missing) or `sqlite::memory:`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is invalid or the database cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::from_pool(connect_pool(url).await?).await
    }

    /// Opens a database with the given options (WAL mode and a busy timeout are added for
    /// files; an in-memory database gets a single, never-closed connection, because each
    /// connection would otherwise see its own database).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the database cannot be opened or migrated.
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        Self::from_pool(pool_with(options).await?).await
    }

    /// A store over an existing pool, after bringing the schema up to date
    /// ([`SqliteUserStore::migrate`]). Other SQL stores of scimkit can share the pool.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if a migration fails.
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            fallback_limit: DEFAULT_FALLBACK_LIMIT,
            outbox: false,
        })
    }

    /// Applies the migrations shipped with this version of scimkit that the database has
    /// not seen yet, in one transaction, and returns the resulting schema version.
    /// Running it again (from any process) is a no-op.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if a migration fails (nothing is applied then).
    pub async fn migrate(pool: &SqlitePool) -> Result<i64, StoreError> {
        migrate_to(pool, i64::MAX).await
    }

    /// The schema version of the database (0 for an empty database).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the database cannot be read.
    pub async fn schema_version(pool: &SqlitePool) -> Result<i64, StoreError> {
        let mut conn = pool.acquire().await.map_err(map_db_error)?;
        current_version(&mut conn).await.map_err(map_db_error)
    }

    /// The latest schema version this version of scimkit knows.
    pub fn latest_schema_version() -> i64 {
        SQLITE.last().map_or(0, |m| m.version)
    }

    /// The connection pool, e.g. to share it with another store or to close it.
    pub fn pool(&self) -> &SqlitePool {
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
    /// the write and the user written, with one difference: `password` is not stored, so
    /// a write that carries one always lists `password` among the changed paths.
    ///
    /// Event ids increase in commit order (SQLite has one writer at a time) and are never
    /// reused. [`UserStore::pending_events`] reads the outbox of the database, whichever
    /// process wrote it, so a store without the outbox may dispatch it too. Run **one**
    /// dispatcher per database: two would each deliver the same events (delivery is at
    /// least once either way; sinks deduplicate by
    /// [`ProvisioningEvent::id`](crate::events::ProvisioningEvent::id)).
    #[must_use]
    pub fn with_outbox(mut self) -> Self {
        self.outbox = true;
        self
    }

    /// Takes the next version from the database-wide counter (inside a write transaction).
    async fn next_version(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "UPDATE scimkit_counters SET value = value + 1 WHERE name = 'user_version' RETURNING value",
        )
        .fetch_one(conn)
        .await
        .map_err(map_db_error)
    }

    /// Whether user `id` exists in the tenant: tells a failed compare-and-swap from a
    /// missing user.
    async fn exists(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM scimkit_users WHERE tenant = ?1 AND id = ?2")
                .bind(tenant)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_db_error)?;
        Ok(found.is_some())
    }

    /// `user` as stored with `version`, after recording the events of the write from
    /// `before` (`None` for a create) in the transaction `tx`, when the outbox is on.
    async fn stored_with_events(
        &self,
        tx: &mut SqliteConnection,
        ctx: &RequestContext,
        before: Option<&User>,
        user: User,
        version: i64,
    ) -> Result<User, StoreError> {
        if !self.outbox {
            return Ok(as_stored(user, version));
        }
        let password = user.password.clone();
        let stored = as_stored(user, version);
        let mut written = stored.clone();
        written.password = password;
        let rows = outbox::rows_for(ctx, before, Some(&written))?;
        outbox::insert_sqlite(tx, &rows).await?;
        Ok(stored)
    }

    /// `delete` with the outbox: the row deleted and its event in one transaction.
    async fn delete_with_events(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_db_error)?;
        let deleted = sqlx::query(
            "DELETE FROM scimkit_users WHERE tenant = ?1 AND id = ?2 AND (?3 IS NULL OR version = ?3) \
             RETURNING resource, version",
        )
        .bind(&*ctx.tenant)
        .bind(id)
        .bind(expected)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_db_error)?;
        let Some(row) = deleted else {
            drop(tx);
            return Err(if self.exists(&ctx.tenant, id).await? {
                StoreError::VersionMismatch
            } else {
                StoreError::NotFound
            });
        };
        let before = read_user(&row)?;
        let rows = outbox::rows_for(ctx, Some(&before), None)?;
        outbox::insert_sqlite(&mut tx, &rows).await?;
        tx.commit().await.map_err(map_db_error)?;
        Ok(())
    }
}

/// The stored user `id` of `tenant`, read in the transaction of a write.
async fn read_current(
    conn: &mut SqliteConnection,
    tenant: &str,
    id: &str,
) -> Result<Option<User>, StoreError> {
    sqlx::query("SELECT resource, version FROM scimkit_users WHERE tenant = ?1 AND id = ?2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(map_db_error)?
        .map(|row| read_user(&row).map(Arc::unwrap_or_clone))
        .transpose()
}

/// A pool on the database file at `path` (created if missing); see [`pool_with`].
pub(super) async fn open_pool(path: &Path) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    pool_with(options).await
}

/// A pool on the database at `url` (`sqlite://PATH`, created if missing, or
/// `sqlite::memory:`); see [`pool_with`].
pub(super) async fn connect_pool(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(map_db_error)?
        .create_if_missing(true);
    pool_with(options).await
}

/// A pool with `options`: WAL mode and a busy timeout for files, a single never-closed
/// connection for an in-memory database (each connection would otherwise see its own).
pub(super) async fn pool_with(options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
    let name = options.get_filename().to_string_lossy();
    let in_memory =
        name.is_empty() || name == ":memory:" || name.starts_with("file:sqlx-in-memory-");
    if in_memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
    } else {
        SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(
                options
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(BUSY_TIMEOUT)
                    // Truncate the write-ahead log back to 64 MiB whenever a checkpoint
                    // resets it, so a busy store does not keep a huge WAL file.
                    .pragma("journal_size_limit", "67108864"),
            )
            .await
    }
    .map_err(map_db_error)
}

async fn current_version(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    let table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'scimkit_schema_migrations'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if table.is_none() {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM scimkit_schema_migrations")
        .fetch_one(conn)
        .await
}

/// Applies the migrations up to `target`.
pub(super) async fn migrate_to(pool: &SqlitePool, target: i64) -> Result<i64, StoreError> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(map_db_error)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS scimkit_schema_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at  TEXT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await
    .map_err(map_db_error)?;
    let mut version = current_version(&mut tx).await.map_err(map_db_error)?;
    let applied = version;
    let pending = SQLITE
        .iter()
        .filter(|m| m.version > applied && m.version <= target);
    for Migration {
        version: v,
        description,
        sql,
    } in pending
    {
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| {
            backend_msg(format!("SQLite migration {v} ({description}) failed: {e}"))
        })?;
        sqlx::query(
            "INSERT INTO scimkit_schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
        )
        .bind(v)
        .bind(description)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await
        .map_err(map_db_error)?;
        version = *v;
    }
    tx.commit().await.map_err(map_db_error)?;
    Ok(version)
}

/// Binds `params` in order.
fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    params: &'q [Param],
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s.as_str()),
            Param::Int(i) => q.bind(*i),
        };
    }
    q
}

fn read_user(row: &SqliteRow) -> Result<Arc<User>, StoreError> {
    let resource: &str = row.try_get("resource").map_err(map_db_error)?;
    let version: i64 = row.try_get("version").map_err(map_db_error)?;
    decode(resource, version).map(Arc::new)
}

/// A user of a list page, with its creation sequence.
fn read_row(row: &SqliteRow) -> Result<(i64, Arc<User>), StoreError> {
    let seq: i64 = row.try_get("seq").map_err(map_db_error)?;
    Ok((seq, read_user(row)?))
}

/// The columns of a row, in the order of [`bind_row`].
const ROW_COLUMNS: &str = "user_name, user_name_lower, external_id, active, created_s, created_ns, \
     modified_s, modified_ns, resource, search, present";

fn bind_row<'q>(
    q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    e: &'q EncodedUser,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
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

#[async_trait]
impl UserStore for SqliteUserStore {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        let row = encode(&user)?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_db_error)?;
        let version = Self::next_version(&mut tx).await?;
        let sql = format!(
            "INSERT INTO scimkit_users (tenant, id, version, {ROW_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        );
        let q = sqlx::query(&sql)
            .bind(&*ctx.tenant)
            .bind(row.id.as_str())
            .bind(version);
        bind_row(q, &row)
            .execute(&mut *tx)
            .await
            .map_err(map_db_error)?;
        let stored = self
            .stored_with_events(&mut tx, ctx, None, user, version)
            .await?;
        tx.commit().await.map_err(map_db_error)?;
        Ok(Arc::new(stored))
    }

    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        sqlx::query("SELECT resource, version FROM scimkit_users WHERE tenant = ?1 AND id = ?2")
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
        let expected = match expected_version {
            Some(etag) => match parse_version(etag) {
                Some(v) => Some(v),
                None if self.exists(&ctx.tenant, &id).await? => {
                    return Err(StoreError::VersionMismatch);
                }
                None => return Err(StoreError::NotFound),
            },
            None => None,
        };
        let row = encode(&user)?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_db_error)?;
        // With the outbox, the user before the write, read under the write lock.
        let before = if self.outbox {
            match read_current(&mut tx, &ctx.tenant, &id).await? {
                Some(u) => Some(u),
                None => return Err(StoreError::NotFound),
            }
        } else {
            None
        };
        let version = Self::next_version(&mut tx).await?;
        let sql = format!(
            "UPDATE scimkit_users SET version = ?3, ({ROW_COLUMNS}) = \
             (?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             WHERE tenant = ?1 AND id = ?2 AND (?15 IS NULL OR version = ?15)"
        );
        let q = sqlx::query(&sql)
            .bind(&*ctx.tenant)
            .bind(id.as_str())
            .bind(version);
        let done = bind_row(q, &row)
            .bind(expected)
            .execute(&mut *tx)
            .await
            .map_err(map_db_error)?;
        if done.rows_affected() == 0 {
            // Rolled back on drop: the version taken is simply never used.
            drop(tx);
            return Err(if self.exists(&ctx.tenant, &id).await? {
                StoreError::VersionMismatch
            } else {
                StoreError::NotFound
            });
        }
        let stored = self
            .stored_with_events(&mut tx, ctx, before.as_ref(), user, version)
            .await?;
        tx.commit().await.map_err(map_db_error)?;
        Ok(Arc::new(stored))
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        let expected = match expected_version {
            Some(etag) => match parse_version(etag) {
                Some(v) => Some(v),
                None if self.exists(&ctx.tenant, id).await? => {
                    return Err(StoreError::VersionMismatch);
                }
                None => return Err(StoreError::NotFound),
            },
            None => None,
        };
        if self.outbox {
            return self.delete_with_events(ctx, id, expected).await;
        }
        let done = sqlx::query(
            "DELETE FROM scimkit_users WHERE tenant = ?1 AND id = ?2 AND (?3 IS NULL OR version = ?3)",
        )
        .bind(&*ctx.tenant)
        .bind(id)
        .bind(expected)
        .execute(&self.pool)
        .await
        .map_err(map_db_error)?;
        if done.rows_affected() == 0 {
            return Err(if self.exists(&ctx.tenant, id).await? {
                StoreError::VersionMismatch
            } else {
                StoreError::NotFound
            });
        }
        Ok(())
    }

    fn supports_cursors(&self) -> bool {
        true
    }

    async fn pending_events(&self, limit: usize) -> Result<Vec<ProvisioningEvent>, StoreError> {
        outbox::pending_sqlite(&self.pool, limit).await
    }

    async fn acknowledge_events(&self, through: u64) -> Result<(), StoreError> {
        outbox::acknowledge_sqlite(&self.pool, through).await
    }

    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        match plan(query, &ctx.tenant, Dialect::Sqlite)? {
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

    fn user(name: &str, email: &str) -> User {
        let mut u = User::new(name);
        u.id = Some(uuid::Uuid::new_v4().to_string().into());
        u.meta = Some(Meta::new("User", chrono::Utc::now()));
        u.emails = vec![MultiValue::typed(email, "work")];
        u
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn indexed_filters_use_their_index() {
        use super::super::list_sql::{Plan, plan};
        runtime().block_on(async {
            let store = SqliteUserStore::in_memory().await.unwrap();
            let c = RequestContext::system("t");
            for i in 0..50 {
                store
                    .create(&c, user(&format!("u{i}"), &format!("u{i}@example.com")))
                    .await
                    .unwrap();
            }
            sqlx::query("ANALYZE").execute(&store.pool).await.unwrap();
            for (filter, index) in [
                (r#"userName eq "U7""#, "scimkit_users_user_name"),
                (r#"externalId eq "x""#, "scimkit_users_external_id"),
                (r#"id eq "x""#, "scimkit_users_id"),
                (
                    r#"emails.value eq "U7@example.com""#,
                    "scimkit_user_emails_value",
                ),
                (
                    r#"userName eq "a" or userName eq "b""#,
                    "scimkit_users_user_name",
                ),
            ] {
                let q = ListQuery::all(10).with_filter(parse(filter).unwrap());
                let Plan::Sql {
                    page: Some((sql, params)),
                    ..
                } = plan(&q, "t", Dialect::Sqlite).unwrap()
                else {
                    panic!("{filter} is planned in SQL");
                };
                let explain = format!("EXPLAIN QUERY PLAN {sql}");
                let rows = bind_all(sqlx::query(&explain), &params)
                    .fetch_all(&store.pool)
                    .await
                    .unwrap();
                let details: Vec<String> = rows
                    .iter()
                    .map(|r| r.try_get::<String, _>("detail").unwrap())
                    .collect();
                assert!(
                    details.iter().any(|d| d.contains(index)),
                    "{filter}: {details:?}"
                );
            }
        });
    }

    #[test]
    fn a_version_1_database_is_upgraded_with_its_data() {
        runtime().block_on(async {
            let dir = std::env::temp_dir().join(format!("scimkit-v1-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
            let options = SqliteConnectOptions::new()
                .filename(dir.join("users.db"))
                .create_if_missing(true);
            let pool = SqlitePool::connect_with(options).await.unwrap();
            assert_eq!(migrate_to(&pool, 1).await.unwrap(), 1);
            // A store as scimkit with schema version 1 had it.
            let v1 = SqliteUserStore {
                pool: pool.clone(),
                fallback_limit: DEFAULT_FALLBACK_LIMIT,
                outbox: false,
            };
            let c = RequestContext::system("t");
            v1.create(&c, user("old", "Old@Example.com")).await.unwrap();
            let store = SqliteUserStore::from_pool(pool.clone()).await.unwrap();
            assert_eq!(
                SqliteUserStore::schema_version(&pool).await.unwrap(),
                SqliteUserStore::latest_schema_version()
            );
            let emails: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scimkit_user_emails")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(emails, 1, "existing users are indexed by the upgrade");
            let q =
                ListQuery::all(10).with_filter(parse(r#"emails eq "old@example.com""#).unwrap());
            let page = store.list(&c, &q).await.unwrap();
            assert_eq!(page.total_results, 1);
            assert_eq!(page.resources[0].user_name, "old");
            pool.close().await;
            std::fs::remove_dir_all(&dir).ok();
        });
    }
}
