//! [`SqliteUserStore`]: users in one SQLite file, on [`SqliteDatabase`] (rusqlite, bundled
//! SQLite): reads inline on a pool of read connections, writes group-committed by one
//! writer.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::{ToSql, ToSqlOutput};
use rusqlite::{Connection, OptionalExtension, Row};

use super::encode::{EncodedUser, Expected, as_stored, decode, encode, missed};
use super::filter_sql::{Dialect, Param};
use super::list_sql::{Plan, finish_page, page_in_rust, page_tells_total, plan, set_total};
use super::outbox;
use super::sqlite_db::{SqliteDatabase, map_error};
use super::{DEFAULT_FALLBACK_LIMIT, to_i64, to_usize};
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
/// unfiltered list is a per-tenant count kept by triggers; pages sorted by
/// `name.familyName`, `name.givenName` or `displayName` are read in order from an index.
///
/// # What it keeps
///
/// - **Uniqueness** of `userName` per tenant by a unique index on the `userName`
///   lower-cased in Rust (`str::to_lowercase`, as [`MemoryUserStore`](crate::MemoryUserStore)
///   folds it), so two racing creates, in one process or two, give one
///   [`StoreError::Uniqueness`].
/// - **Compare-and-swap**: `replace`/`delete` with an expected version are one
///   `UPDATE`/`DELETE ... WHERE tenant = ? AND id = ? AND version = ?`. Versions come from
///   a counter **per tenant** (`scimkit_tenant_counters`; `meta.version` is `W/"<n>"`), so
///   a version reveals nothing about other tenants' writes, and none is ever reused for a
///   resource, not even after a delete and a re-create with the same id.
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
/// - **Migrations** ship in the crate, run when the database is opened (or by
///   [`SqliteDatabase::migrate`]), each in one transaction, recorded in
///   `scimkit_schema_migrations`; running them again is a no-op, and a database made by
///   an older version is upgraded in place.
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
    db: SqliteDatabase,
    fallback_limit: usize,
    /// Whether writes record provisioning events in `scimkit_outbox`.
    outbox: bool,
}

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

    /// Opens (creating it if missing) the database file at `path`
    /// ([`SqliteDatabase::open`]: WAL mode, [`Durability::Normal`](super::Durability::Normal),
    /// schema brought up to date).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the file cannot be opened or migrated.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        SqliteDatabase::open(path).map(Self::new)
    }

    /// A private in-memory database (one connection), for tests and demos.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if SQLite cannot be started.
    pub async fn in_memory() -> Result<Self, StoreError> {
        SqliteDatabase::in_memory().map(Self::new)
    }

    /// Opens a database by URL: `sqlite://PATH` (created if missing) or `sqlite::memory:`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is invalid or the database cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        SqliteDatabase::connect(url).map(Self::new)
    }

    /// The database, e.g. to share it with a [`SqliteApiKeyStore`](super::SqliteApiKeyStore).
    pub fn database(&self) -> &SqliteDatabase {
        &self.db
    }

    /// The latest schema version this version of scimkit knows.
    pub fn latest_schema_version() -> i64 {
        SqliteDatabase::latest_schema_version()
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

    /// Whether user `id` exists in the tenant: tells a failed compare-and-swap from a
    /// missing user.
    fn exists(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        self.db.read(|conn| exists(conn, tenant, id))
    }

    /// The expected version of a conditional write, or why the write fails at once.
    fn expected(
        &self,
        tenant: &str,
        id: &str,
        etag: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        match Expected::of(etag) {
            Expected::Any => Ok(None),
            Expected::Version(v) => Ok(Some(v)),
            Expected::Never => Err(missed(self.exists(tenant, id)?)),
        }
    }
}

fn exists(conn: &Connection, tenant: &str, id: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM scimkit_users WHERE tenant = ?1 AND id = ?2")
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

/// Takes the next version of `tenant` (inside the write transaction).
fn next_version(conn: &Connection, tenant: &str) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO scimkit_tenant_counters (tenant, value) VALUES (?1, 1) \
         ON CONFLICT (tenant) DO UPDATE SET value = value + 1 RETURNING value",
    )
    .and_then(|mut st| st.query_row([tenant], |r| r.get(0)))
    .map_err(map_error)
}

/// The stored user `id` of `tenant`, decoded (inside a write: no cache).
fn read_current(conn: &Connection, tenant: &str, id: &str) -> Result<Option<User>, StoreError> {
    conn.prepare_cached("SELECT resource, version FROM scimkit_users WHERE tenant = ?1 AND id = ?2")
        .and_then(|mut st| st.query_row((tenant, id), read_raw).optional())
        .map_err(map_error)?
        .map(|(resource, version)| decode(&resource, version))
        .transpose()
}

/// Reads a row whose first columns are `seq, resource, version` (those of every page
/// query), through the database's decoded users: the resource is not even read when its
/// user is kept.
fn read_user(
    db: &SqliteDatabase,
    tenant: &str,
    row: &Row<'_>,
) -> rusqlite::Result<Result<Arc<User>, StoreError>> {
    let seq: i64 = row.get(0)?;
    let version: i64 = row.get(2)?;
    if let Some(user) = db.kept_user(tenant, seq, version) {
        return Ok(Ok(user));
    }
    let resource = row.get_ref(1)?.as_str()?;
    Ok(db.user(tenant, seq, version, resource))
}

/// `(resource, version)` of a row whose first columns are those.
fn read_raw(row: &Row<'_>) -> rusqlite::Result<(String, i64)> {
    Ok((row.get(0)?, row.get(1)?))
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(i) => i.to_sql(),
        }
    }
}

/// The columns of a row, in the order of [`row_params`].
const ROW_COLUMNS: &str = "user_name, user_name_lower, external_id, active, created_s, created_ns, \
     modified_s, modified_ns, resource, search, present";

/// The parameters of an `INSERT` or `UPDATE` of a row: `tenant, id, version`, the values
/// of [`ROW_COLUMNS`], then the expected version (`UPDATE` only).
struct RowParams<'a> {
    tenant: &'a str,
    version: i64,
    e: &'a EncodedUser,
    created: (Option<i64>, Option<i64>),
    modified: (Option<i64>, Option<i64>),
    expected: Option<i64>,
}

impl<'a> RowParams<'a> {
    fn new(tenant: &'a str, version: i64, e: &'a EncodedUser, expected: Option<i64>) -> Self {
        let split = |t: Option<(i64, i64)>| (t.map(|c| c.0), t.map(|c| c.1));
        Self {
            tenant,
            version,
            e,
            created: split(e.created),
            modified: split(e.modified),
            expected,
        }
    }

    fn all(&self) -> [&dyn ToSql; 15] {
        [
            &self.tenant,
            &self.e.id,
            &self.version,
            &self.e.user_name,
            &self.e.user_name_lower,
            &self.e.external_id,
            &self.e.active,
            &self.created.0,
            &self.created.1,
            &self.modified.0,
            &self.modified.1,
            &self.e.resource,
            &self.e.search,
            &self.e.present,
            &self.expected,
        ]
    }
}

/// Writes the outbox rows of a write from `before` (`None` for a create) to `written`
/// (`None` for a delete), when the outbox is on.
fn record_events(
    conn: &Connection,
    on: bool,
    ctx: &RequestContext,
    before: Option<&User>,
    written: Option<&User>,
) -> Result<(), StoreError> {
    if !on {
        return Ok(());
    }
    let rows = outbox::rows_for(ctx, before, written)?;
    outbox::insert_sqlite(conn, &rows)
}

/// `user` as stored with `version`, after recording the events of its write.
fn stored_with_events(
    conn: &Connection,
    on: bool,
    ctx: &RequestContext,
    before: Option<&User>,
    user: User,
    version: i64,
) -> Result<User, StoreError> {
    if !on {
        return Ok(as_stored(user, version));
    }
    let password = user.password.clone();
    let stored = as_stored(user, version);
    let mut written = stored.clone();
    written.password = password;
    record_events(conn, on, ctx, before, Some(&written))?;
    Ok(stored)
}

fn create_in(
    conn: &Connection,
    on: bool,
    ctx: &RequestContext,
    user: User,
    row: &EncodedUser,
) -> Result<User, StoreError> {
    // One value of the tenant's counter: the user's creation order and first version.
    let version = next_version(conn, &ctx.tenant)?;
    conn.prepare_cached(&format!(
        "INSERT INTO scimkit_users (tenant, id, version, {ROW_COLUMNS}, seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?3)"
    ))
    .and_then(|mut st| st.execute(&RowParams::new(&ctx.tenant, version, row, None).all()[..14]))
    .map_err(map_error)?;
    stored_with_events(conn, on, ctx, None, user, version)
}

fn replace_in(
    conn: &Connection,
    on: bool,
    ctx: &RequestContext,
    user: User,
    row: &EncodedUser,
    expected: Option<i64>,
) -> Result<User, StoreError> {
    // With the outbox, the user before the write, read under the write lock.
    let before = if on {
        match read_current(conn, &ctx.tenant, &row.id)? {
            Some(u) => Some(u),
            None => return Err(StoreError::NotFound),
        }
    } else {
        None
    };
    let version = next_version(conn, &ctx.tenant)?;
    let params = RowParams::new(&ctx.tenant, version, row, expected);
    let done = conn
        .prepare_cached(&format!(
            "UPDATE scimkit_users SET version = ?3, ({ROW_COLUMNS}) = \
             (?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             WHERE tenant = ?1 AND id = ?2 AND (?15 IS NULL OR version = ?15)"
        ))
        .and_then(|mut st| st.execute(params.all()))
        .map_err(map_error)?;
    if done == 0 {
        // The savepoint is rolled back: the version taken is never used.
        return Err(missed_in(conn, &ctx.tenant, &row.id));
    }
    stored_with_events(conn, on, ctx, before.as_ref(), user, version)
}

fn delete_in(
    conn: &Connection,
    on: bool,
    ctx: &RequestContext,
    id: &str,
    expected: Option<i64>,
) -> Result<(), StoreError> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM scimkit_users WHERE tenant = ?1 AND id = ?2 AND (?3 IS NULL OR version = ?3) \
             RETURNING resource, version",
        )
        .and_then(|mut st| st.query_row((&*ctx.tenant, id, expected), read_raw).optional())
        .map_err(map_error)?;
    let Some((resource, version)) = deleted else {
        return Err(missed_in(conn, &ctx.tenant, id));
    };
    if on {
        let before = decode(&resource, version)?;
        record_events(conn, on, ctx, Some(&before), None)?;
    }
    Ok(())
}

/// Runs `sql` with `params` and reads each row with `read`.
fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: &[Param],
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(map_error)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(params), read)
        .map_err(map_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(map_error)
}

/// Reads the rows of a page (`seq` with the user).
fn read_page(
    db: &SqliteDatabase,
    tenant: &str,
    conn: &Connection,
    sql: &str,
    params: &[Param],
) -> Result<Vec<(i64, Arc<User>)>, StoreError> {
    query_all(conn, sql, params, |row| {
        let seq: i64 = row.get(0)?;
        Ok(read_user(db, tenant, row)?.map(|u| (seq, u)))
    })?
    .into_iter()
    .collect()
}

impl SqliteUserStore {
    fn list_now(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        match plan(query, &ctx.tenant, Dialect::Sqlite, ctx.schemas())? {
            Plan::Empty => Ok(query.page(std::iter::empty())),
            Plan::Rust { sql, mut params } => {
                params.push(Param::Int(to_i64(self.fallback_limit.saturating_add(1))));
                let rows = self
                    .db
                    .read(|conn| read_page(&self.db, &ctx.tenant, conn, &sql, &params))?;
                let users = rows.into_iter().map(|(_, u)| u).collect();
                page_in_rust(query, self.fallback_limit, users, ctx.schemas())
            }
            Plan::Sql {
                page,
                count,
                paging,
            } => {
                // The page and its count in one read transaction: the total is that of
                // the page's snapshot.
                let (rows, total) = self.db.read(|conn| {
                    let tx = conn.unchecked_transaction().map_err(map_error)?;
                    let rows = match &page {
                        Some((sql, params)) => read_page(&self.db, &ctx.tenant, conn, sql, params)?,
                        None => Vec::new(),
                    };
                    let done = page.is_some() && page_tells_total(query, &paging, rows.len());
                    let total = if done {
                        None
                    } else {
                        Some(count_matches(conn, &ctx.tenant, query, &count)?)
                    };
                    tx.commit().map_err(map_error)?;
                    Ok((rows, total))
                })?;
                let (mut page, known) = finish_page(query, &paging, rows);
                match (known, total) {
                    (Some(n), _) | (None, Some(n)) => set_total(&mut page, &paging, n),
                    (None, None) => {
                        // Not expected: count after all.
                        let n = self
                            .db
                            .read(|conn| count_matches(conn, &ctx.tenant, query, &count))?;
                        set_total(&mut page, &paging, n);
                    }
                }
                Ok(page)
            }
        }
    }
}

/// The number of users `query` matches in `tenant`: the count the triggers keep when it
/// has no filter (an identity provider's import), else `count` (the plan's `COUNT(*)`).
fn count_matches(
    conn: &Connection,
    tenant: &str,
    query: &ListQuery,
    count: &(String, Vec<Param>),
) -> Result<usize, StoreError> {
    let n: i64 = if query.filter.is_none() {
        conn.prepare_cached("SELECT users FROM scimkit_tenant_user_counts WHERE tenant = ?1")
            .and_then(|mut st| st.query_row([tenant], |r| r.get(0)).optional())
            .map_err(map_error)?
            .unwrap_or(0)
    } else {
        let (sql, params) = count;
        conn.prepare_cached(sql)
            .and_then(|mut st| st.query_row(rusqlite::params_from_iter(params), |r| r.get(0)))
            .map_err(map_error)?
    };
    Ok(to_usize(n))
}

#[async_trait]
impl UserStore for SqliteUserStore {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        let row = encode(&user, ctx.schemas())?;
        let ctx = ctx.clone();
        let on = self.outbox;
        self.db
            .write(move |conn| create_in(conn, on, &ctx, user, &row))
            .await
            .map(Arc::new)
    }

    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        self.db.read(|conn| {
            conn.prepare_cached(
                "SELECT seq, resource, version FROM scimkit_users WHERE tenant = ?1 AND id = ?2",
            )
            .and_then(|mut st| {
                st.query_row((&*ctx.tenant, id), |r| read_user(&self.db, &ctx.tenant, r))
                    .optional()
            })
            .map_err(map_error)?
            .transpose()
        })
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
        let expected = self.expected(&ctx.tenant, &id, expected_version)?;
        let row = encode(&user, ctx.schemas())?;
        let ctx = ctx.clone();
        let on = self.outbox;
        self.db
            .write(move |conn| replace_in(conn, on, &ctx, user, &row, expected))
            .await
            .map(Arc::new)
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        let expected = self.expected(&ctx.tenant, id, expected_version)?;
        let ctx = ctx.clone();
        let id = id.to_owned();
        let on = self.outbox;
        self.db
            .write(move |conn| delete_in(conn, on, &ctx, &id, expected))
            .await
    }

    fn supports_cursors(&self) -> bool {
        true
    }

    async fn pending_events(&self, limit: usize) -> Result<Vec<ProvisioningEvent>, StoreError> {
        self.db.read(|conn| outbox::pending_sqlite(conn, limit))
    }

    async fn acknowledge_events(&self, through: u64) -> Result<(), StoreError> {
        self.db
            .write(move |conn| outbox::acknowledge_sqlite(conn, through))
            .await
    }

    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        self.list_now(ctx, query)
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

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn temp_file(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("scimkit-sqlite-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
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
                } = plan(&q, "t", Dialect::Sqlite, crate::schema::SchemaSet::core()).unwrap()
                else {
                    panic!("{filter} is planned in SQL");
                };
                let explain = format!("EXPLAIN QUERY PLAN {sql}");
                let details = store
                    .db
                    .read(|conn| query_all(conn, &explain, &params, |r| r.get::<_, String>(3)))
                    .unwrap();
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
                let u = user("old", "Old@Example.com");
                let row = encode(&u, crate::schema::SchemaSet::core()).unwrap();
                conn.execute_batch(
                    "UPDATE scimkit_counters SET value = 41 WHERE name = 'user_version'",
                )
                .unwrap();
                conn.execute(
                    &format!(
                        "INSERT INTO scimkit_users (tenant, id, version, {ROW_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                    ),
                    &RowParams::new("t", 41, &row, None).all()[..14],
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

    #[test]
    fn versions_count_per_tenant() {
        block_on(async {
            let store = SqliteUserStore::in_memory().await.unwrap();
            let a = RequestContext::system("a");
            let b = RequestContext::system("b");
            for i in 0..5 {
                store
                    .create(&a, user(&format!("a{i}"), "a@example.com"))
                    .await
                    .unwrap();
            }
            let first_b = store.create(&b, user("b0", "b@example.com")).await.unwrap();
            assert_eq!(
                first_b.version(),
                Some("W/\"1\""),
                "tenant a's writes do not show in tenant b's versions"
            );
        });
    }

    #[test]
    fn pages_sorted_by_a_name_read_their_index_without_sorting() {
        let db = SqliteDatabase::in_memory().unwrap();
        for (by, index) in [
            ("name.familyName", "scimkit_users_family_name"),
            ("name.givenName", "scimkit_users_given_name"),
            ("displayName", "scimkit_users_display_name"),
        ] {
            let q = ListQuery::all(100)
                .starting_at(101)
                .sorted_by(crate::sort::SortSpec::parse(by, None).unwrap());
            let Plan::Sql {
                page: Some((sql, params)),
                ..
            } = plan(&q, "t", Dialect::Sqlite, crate::schema::SchemaSet::core()).unwrap()
            else {
                panic!("sortBy={by} is planned in SQL");
            };
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let details = db
                .read(|conn| query_all(conn, &explain, &params, |r| r.get::<_, String>(3)))
                .unwrap();
            assert!(
                details.iter().any(|d| d.contains(index))
                    && !details.iter().any(|d| d.contains("TEMP B-TREE")),
                "sortBy={by}: {details:?}"
            );
        }
    }

    #[test]
    fn cursor_positions_count_per_tenant_and_kept_users_stay_in_their_tenant() {
        block_on(async {
            let store = SqliteUserStore::in_memory().await.unwrap();
            let a = RequestContext::system("a");
            let b = RequestContext::system("b");
            for i in 0..3 {
                store
                    .create(&a, user(&format!("a{i}"), "a@example.com"))
                    .await
                    .unwrap();
            }
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
