//! [`SqliteGroupStore`]: groups and their memberships in the database of the SQLite
//! stores, with the one implementation both dialects share (`group_rows.rs`).

use std::sync::{Arc, OnceLock};

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::driver::map_error;
use super::encode::missed;
use super::group_rows::{
    Cell, Events, GroupDatabase, Kind, Row, Statements, Step, Value, sql_group_store,
};
use super::outbox;
use super::sqlite::{SqliteUserStore, count_version, peek_version};
use super::sqlite_db::SqliteDatabase;
use super::{Result, StoreError};
use crate::context::RequestContext;

/// A [`GroupStore`](crate::group::GroupStore) in SQLite, in the database of a
/// [`SqliteUserStore`] (whose users are the members): get one with
/// [`SqliteUserStore::group_store`], or over a shared [`SqliteDatabase`] with
/// [`SqliteGroupStore::new`].
///
/// Memberships are rows of `scimkit_group_members` (tenant, group, user), keyed by group
/// and indexed by user (migration 0011). A write is one transaction of the database's
/// writer (group-committed with the other writes waiting): the group's row
/// (compare-and-swap on its version, which every write changes), then one statement per
/// membership edit — so a PATCH adding 1,000 members to a group of 100,000 inserts 1,000
/// rows and reads none. An added id that names no user of the tenant is skipped. A
/// deleted user leaves its groups in the transaction of its delete (a trigger);
/// `displayName` is unique per tenant case-insensitively (a unique index on its folded
/// form); versions and the creation order come from the tenant's counter, as users'. A
/// read is one statement: a group with its members, a page with its exact total, or the
/// groups of a list of users (`User.groups`, by the index on users).
///
/// ```
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::store::SqliteUserStore;
/// let users = SqliteUserStore::open("/tmp/scimkit-doc-groups.db").await?;
/// let groups = users.group_store();
/// let server = scimkit::ScimServer::builder().store(users).groups(groups);
/// # let _ = server;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteGroupStore {
    db: SqliteDatabase,
    /// Whether writes record provisioning events in `scimkit_outbox`.
    outbox: bool,
}

sqlite_constructors!(SqliteGroupStore);

impl SqliteGroupStore {
    /// A group store over `db` (already migrated when opened), whose members are the
    /// users of the [`SqliteUserStore`]s of the same database. It records no events (see
    /// [`SqliteGroupStore::with_outbox`]).
    pub fn new(db: SqliteDatabase) -> Self {
        Self { db, outbox: false }
    }

    /// The same store recording provisioning events ([`crate::events`]) in the database's
    /// outbox, in the transaction of each write: `groupCreated`, `groupUpdated` (a rename
    /// or a new `externalId`), `groupMembersChanged` (who joined and who left) and
    /// `groupDeleted`. They share the outbox, and the order of ids, with the user
    /// stores' events of the database; read them with the user store
    /// ([`EventOutbox`](crate::events::EventOutbox)).
    /// [`SqliteUserStore::group_store`] of a store with the outbox has it on already.
    pub fn with_outbox(mut self) -> Self {
        self.outbox = true;
        self
    }
}

impl SqliteUserStore {
    /// The [`SqliteGroupStore`] of this store's database: its members are this store's
    /// users, and it records events when this store does
    /// ([`SqliteUserStore::with_outbox`]). To serve `/Groups`, pass it to
    /// [`ScimServerBuilder::groups`](crate::ScimServerBuilder::groups).
    pub fn group_store(&self) -> SqliteGroupStore {
        SqliteGroupStore {
            db: self.database().clone(),
            outbox: self.outbox_on(),
        }
    }
}

/// The statements in SQLite's dialect.
fn statements() -> &'static Statements {
    static SQL: OnceLock<Statements> = OnceLock::new();
    SQL.get_or_init(|| {
        // No locking clauses: one writer at a time.
        Statements::new(
            |p| format!("SELECT value FROM json_each({p})"),
            "",
            "",
            |s| s,
        )
    })
}

/// Runs `step` on `conn` (the write's `version` for [`Value::Version`]) and reads its rows.
fn run(conn: &Connection, step: &Step, version: Option<i64>) -> Result<Vec<Row>> {
    let args = step.args.iter().map(|a| match a {
        Value::Text(t) => SqlValue::from(t.clone()),
        Value::Int(i) => SqlValue::from(*i),
        Value::Version => SqlValue::from(version),
    });
    let mut st = conn.prepare_cached(&step.sql).map_err(map_error)?;
    let mut rows = st
        .query(rusqlite::params_from_iter(args))
        .map_err(map_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        let cells = step.columns.iter().enumerate().map(|(i, kind)| match kind {
            Kind::Text => row.get(i).map(Cell::Text),
            Kind::Int => row.get(i).map(Cell::Int),
        });
        out.push(cells.collect::<Result<Row, _>>().map_err(map_error)?);
    }
    Ok(out)
}

/// Runs the steps of a write in order on the writer's connection (in its transaction).
fn run_all(conn: &Connection, tenant: &str, steps: &[Step]) -> Result<Vec<Vec<Row>>> {
    let needs_version = steps.iter().any(|s| s.args.contains(&Value::Version));
    // The version is read first and counted once every step succeeded (see
    // `peek_version`): a write refused by its guard has changed nothing.
    let version = if needs_version {
        Some(peek_version(conn, tenant)?)
    } else {
        None
    };
    let mut results = Vec::with_capacity(steps.len());
    for step in steps {
        let rows = run(conn, step, version)?;
        if step.guard && rows.is_empty() {
            // Nothing of the write stays (its batch undoes any step that changed rows).
            let exists = Step {
                sql: statements().exists.as_str().into(),
                args: step.args.iter().take(2).cloned().collect(),
                columns: &[],
                guard: false,
            };
            return Err(missed(!run(conn, &exists, None)?.is_empty()));
        }
        results.push(rows);
    }
    if let Some(version) = version {
        count_version(conn, tenant, version, 0)?;
    }
    Ok(results)
}

#[async_trait::async_trait]
impl GroupDatabase for SqliteGroupStore {
    fn statements(&self) -> &'static Statements {
        statements()
    }

    fn outbox(&self) -> bool {
        self.outbox
    }

    fn placeholders(&self, sql: String) -> String {
        sql
    }

    async fn read(&self, step: Step) -> Result<Vec<Row>> {
        self.db.read(|conn| run(conn, &step, None))
    }

    async fn write(
        &self,
        tenant: &Arc<str>,
        steps: Vec<Step>,
        events: Option<Events>,
    ) -> Result<Vec<Vec<Row>>> {
        let tenant = tenant.clone();
        self.db
            .write(move |conn| {
                let rows = run_all(conn, &tenant, &steps)?;
                if let Some(events) = &events {
                    outbox::insert_sqlite(conn, &events(&rows)?)?;
                }
                Ok(rows)
            })
            .await
    }
}

sql_group_store!(SqliteGroupStore);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::group::{GroupChange, GroupStore, MemberEdit};
    use crate::store::UserStore;
    use crate::testing::block_on;

    /// The query plan of every statement of an edit reads the rows it names through the
    /// membership table's key, never the group's other rows.
    #[test]
    fn edits_use_the_keys() {
        let db = SqliteDatabase::in_memory().unwrap();
        let sql = statements();
        for statement in sql.add_sql().iter().chain(sql.remove_sql()) {
            let plan: Vec<String> = db
                .read(|conn| {
                    let mut st = conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {statement}"))
                        .map_err(map_error)?;
                    let rows = st
                        .query_map(("t", "g", "[\"a\"]"), |r| r.get::<_, String>(3))
                        .map_err(map_error)?;
                    rows.collect::<Result<_, _>>().map_err(map_error)
                })
                .unwrap();
            // Only the edit's own list of ids is scanned; every table is searched by key.
            let scans = plan.iter().filter(|d| d.starts_with("SCAN"));
            assert!(
                scans.clone().all(|d| d.contains("json_each"))
                    && plan.iter().any(|d| d.starts_with("SEARCH")),
                "{statement}: {plan:?}"
            );
        }
    }

    /// Deleting a user deletes its membership rows in the same transaction, before the
    /// server calls `remove_user`.
    #[test]
    fn a_deleted_users_rows_go_with_it() {
        block_on(async {
            let users = SqliteUserStore::in_memory().await.unwrap();
            let groups = users.group_store();
            let c = RequestContext::system("t");
            let u = users
                .create(&c, crate::testing::new_user("gone@example.com"))
                .await
                .unwrap();
            let id = u.id.clone().unwrap();
            let g = groups
                .create(&c, crate::testing::groups::new_group("G", &[&id]))
                .await
                .unwrap();
            let rows = || {
                users
                    .database()
                    .read(|conn| {
                        conn.query_row("SELECT COUNT(*) FROM scimkit_group_members", [], |r| {
                            r.get::<_, i64>(0)
                        })
                        .map_err(map_error)
                    })
                    .unwrap()
            };
            assert_eq!(rows(), 1);
            users.delete(&c, &id, None).await.unwrap();
            assert_eq!(rows(), 0);
            let change = GroupChange::edit(vec![MemberEdit::Add(vec![id])]);
            let after = groups
                .update(
                    &c,
                    g.id.as_deref().unwrap(),
                    &change,
                    chrono::Utc::now(),
                    None,
                    true,
                )
                .await
                .unwrap();
            assert!(
                after.members.is_empty(),
                "a deleted user is not added again"
            );
            assert_eq!(rows(), 0);
        });
    }
}
