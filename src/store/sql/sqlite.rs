//! [`SqliteUserStore`]: users in one SQLite file, on [`SqliteDatabase`] (rusqlite, bundled
//! SQLite): reads inline on a pool of read connections, writes group-committed by one
//! writer.

use std::sync::Arc;

use rusqlite::{Connection, params_from_iter};

use super::driver::{Arg, ReadRow, sqlite_all, sqlite_one};
use super::encode::{EncodedUser, as_stored, decode, encode, missed};
use super::filter_sql::{Dialect, Param};
use super::list_sql::{FetchedPage, SqlPlan, page_tells_total};
use super::outbox;
use super::sqlite_db::{SqliteDatabase, map_error};
use super::user_rows::{EXISTS, GET, row_columns, sql_user_store};
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
/// unfiltered list is a per-tenant count kept by triggers; pages sorted by
/// `name.familyName`, `name.givenName` or `displayName` are read in order from an index.
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
}

/// Inserts a row: parameters 1 to 14 of [`EncodedUser::write_args`], its version also
/// its creation order `seq`.
const INSERT: &str = concat!(
    "INSERT INTO scimkit_users (tenant, id, version, ",
    row_columns!(),
    ", seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?3)"
);

/// The compare-and-swap update: parameters 1 to 14 of [`EncodedUser::write_args`], then
/// the expected version (NULL: any).
const UPDATE: &str = concat!(
    "UPDATE scimkit_users SET version = ?3, (",
    row_columns!(),
    ") = (?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
     WHERE tenant = ?1 AND id = ?2 AND (?15 IS NULL OR version = ?15)"
);

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
    /// Writes the outbox rows of a write from `before` (`None` for a create) to
    /// `written` (`None` for a delete), when the outbox is on.
    fn record_events(&self, before: Option<&User>, written: Option<&User>) -> Result<()> {
        if !self.outbox {
            return Ok(());
        }
        let rows = outbox::rows_for(self.ctx, before, written)?;
        outbox::insert_sqlite(self.conn, &rows)
    }

    /// `user` as stored with `version`, after recording the events of its write.
    fn stored(&self, before: Option<&User>, user: User, version: i64) -> Result<User> {
        if !self.outbox {
            return Ok(as_stored(user, version));
        }
        let password = user.password.clone();
        let stored = as_stored(user, version);
        let mut written = stored.clone();
        written.password = password;
        self.record_events(before, Some(&written))?;
        Ok(stored)
    }

    fn create(&self, user: User, row: &EncodedUser) -> Result<User> {
        let (conn, tenant) = (self.conn, &*self.ctx.tenant);
        // One value of the tenant's counter: the user's creation order and first version.
        let version = next_version(conn, tenant)?;
        conn.prepare_cached(INSERT)
            .and_then(|mut st| st.execute(params_from_iter(row.write_args(tenant, version))))
            .map_err(map_error)?;
        self.stored(None, user, version)
    }

    fn replace(&self, user: User, row: &EncodedUser, expected: Option<i64>) -> Result<User> {
        let (conn, tenant) = (self.conn, &*self.ctx.tenant);
        // With the outbox, the user before the write, read under the write lock.
        let before = if self.outbox {
            match read_current(conn, tenant, &row.id)? {
                Some(u) => Some(u),
                None => return Err(StoreError::NotFound),
            }
        } else {
            None
        };
        let version = next_version(conn, tenant)?;
        let args = row.write_args(tenant, version).chain([Arg::Int(expected)]);
        let done = conn
            .prepare_cached(UPDATE)
            .and_then(|mut st| st.execute(params_from_iter(args)))
            .map_err(map_error)?;
        if done == 0 {
            // The savepoint is rolled back: the version taken is never used.
            return Err(missed_in(conn, tenant, &row.id));
        }
        self.stored(before.as_ref(), user, version)
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
            self.record_events(Some(&before), None)?;
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

/// The number of users `query` matches in `tenant`: the count the triggers keep when it
/// has no filter (an identity provider's import), else `count` (the plan's `COUNT(*)`).
fn count_matches(
    conn: &Connection,
    tenant: &str,
    query: &ListQuery,
    count: &(String, Vec<Param>),
) -> Result<usize, StoreError> {
    let n = if query.filter.is_none() {
        let sql = "SELECT users FROM scimkit_tenant_user_counts WHERE tenant = ?1";
        sqlite_one(conn, sql, [tenant], |r| r.int(0))?.unwrap_or(0)
    } else {
        let (sql, params) = count;
        sqlite_one(conn, sql, params_from_iter(params), |r| r.int(0))?.unwrap_or(0)
    };
    Ok(to_usize(n))
}

impl SqliteUserStore {
    /// Runs `f` as a write of this store for `ctx`, through the database's writer.
    async fn writing<T: Send + 'static>(
        &self,
        ctx: &RequestContext,
        f: impl FnOnce(Writing<'_>) -> Result<T> + Send + 'static,
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

/// What [`sql_user_store!`] implements [`UserStore`] with.
impl SqliteUserStore {
    async fn exists(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        self.db.read(|conn| exists(conn, tenant, id))
    }

    async fn insert(&self, ctx: &RequestContext, user: User) -> Result<User, StoreError> {
        let row = encode(&user)?;
        self.writing(ctx, move |w| w.create(user, &row)).await
    }

    async fn fetch(&self, tenant: &str, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        self.db.read(|conn| {
            sqlite_one(conn, GET.sqlite(), (tenant, id), |r| {
                self.db.decoded().read_row(tenant, r).map(|(_, u)| u)
            })
        })
    }

    async fn swap(&self, ctx: &RequestContext, user: User, at: Option<i64>) -> Result<User> {
        let row = encode(&user)?;
        self.writing(ctx, move |w| w.replace(user, &row, at)).await
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
            let tx = conn.unchecked_transaction().map_err(map_error)?;
            let rows = match &plan.page {
                Some((sql, params)) => read_page(&self.db, tenant, conn, sql, params)?,
                None => Vec::new(),
            };
            let done = plan.page.is_some() && page_tells_total(query, &plan.paging, rows.len());
            let total = if done {
                None
            } else {
                Some(count_matches(conn, tenant, query, &plan.count)?)
            };
            tx.commit().map_err(map_error)?;
            Ok((rows, total))
        })
    }

    async fn count(
        &self,
        tenant: &str,
        query: &ListQuery,
        count: &(String, Vec<Param>),
    ) -> Result<usize> {
        self.db
            .read(|conn| count_matches(conn, tenant, query, count))
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
    use crate::testing::block_on;

    fn user(name: &str, email: &str) -> User {
        let mut u = User::new(name);
        u.id = Some(uuid::Uuid::new_v4().to_string().into());
        u.meta = Some(Meta::new("User", chrono::Utc::now()));
        u.emails = vec![MultiValue::typed(email, "work")];
        u
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
                let u = user("old", "Old@Example.com");
                let row = encode(&u).unwrap();
                conn.execute_batch(
                    "UPDATE scimkit_counters SET value = 41 WHERE name = 'user_version'",
                )
                .unwrap();
                conn.execute(
                    concat!(
                        "INSERT INTO scimkit_users (tenant, id, version, ",
                        row_columns!(),
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                    ),
                    params_from_iter(row.write_args("t", 41)),
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
    fn pages_sorted_by_a_name_read_their_index_without_sorting() {
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
