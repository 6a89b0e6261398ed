//! [`PostgresGroupStore`]: groups and their memberships in the database of a
//! [`PostgresUserStore`], with the one implementation both dialects share
//! (`group_rows.rs`).

use std::sync::{Arc, OnceLock};

use sqlx::Row as _;
use sqlx::postgres::{PgConnection, PgPool, PgRow};

use super::PostgresUserStore;
use crate::context::RequestContext;
use crate::store::StoreError;
use crate::store::sql::Result;
use crate::store::sql::driver::{PgQuery, dollar_placeholders};
use crate::store::sql::encode::missed;
use crate::store::sql::group_rows::{
    Cell, Events, GroupDatabase, Kind, Row, Statements, Step, Value, sql_group_store,
};
use crate::store::sql::{map_db_error, outbox};

/// How many times a write that PostgreSQL aborted as a deadlock (a membership edit
/// meeting the delete of one of its users) runs.
const ATTEMPTS: usize = 3;

/// A [`GroupStore`](crate::group::GroupStore) in PostgreSQL, in the database of a
/// [`PostgresUserStore`] (whose users are the members): get one with
/// [`PostgresUserStore::group_store`], which shares its pool and its reserved version
/// numbers, or with [`PostgresGroupStore::from_pool`].
///
/// Memberships are rows of `scimkit_group_members` (tenant, group, user), keyed by group
/// and indexed by user, each a foreign key to its user (`ON DELETE CASCADE`: a deleted
/// user leaves its groups in the transaction of its delete). A write is one transaction:
/// the group's row (compare-and-swap on its version, which every write changes), then
/// one statement per membership edit — so a PATCH adding 1,000 members to a group of
/// 100,000 inserts 1,000 rows and reads none: `BEGIN`, two statements and `COMMIT`, four
/// round trips whatever the size of the group. An added id that names no user of the
/// tenant is skipped; the users an edit adds are locked `FOR KEY SHARE` until it commits,
/// so a user deleted meanwhile is either skipped or removed again by its delete. A write
/// that PostgreSQL aborts as a deadlock (an edit meeting the delete of one of its users)
/// is run again, up to three times. `displayName` is unique per tenant
/// case-insensitively (a unique constraint on its folded form); versions and the creation
/// order come from the tenant's counter, as users'. A read is one statement: a group
/// with its members, a page with its exact total, or the groups of a list of users
/// (`User.groups`, by the index on users).
///
/// ```no_run
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::store::PostgresUserStore;
/// let users = PostgresUserStore::connect("postgres://scim@db.internal/scim").await?;
/// let groups = users.group_store();
/// let server = scimkit::ScimServer::builder().store(users).groups(groups);
/// # let _ = server;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresGroupStore {
    /// The user store whose pool and reserved numbers the group store uses.
    users: PostgresUserStore,
}

impl PostgresGroupStore {
    /// A group store over an existing pool, after bringing the schema up to date
    /// ([`PostgresUserStore::migrate`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if a migration fails.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        Ok(PostgresUserStore::from_pool(pool).await?.group_store())
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        self.users.pool()
    }

    /// The same store recording provisioning events ([`crate::events`]) in the database's
    /// outbox, in the transaction of each write: `groupCreated`, `groupUpdated` (a rename
    /// or a new `externalId`), `groupMembersChanged` (who joined and who left) and
    /// `groupDeleted`. They share the outbox, and the commit order of its ids, with the
    /// user stores' events of the database; read them with the user store
    /// ([`EventOutbox`](crate::events::EventOutbox)).
    /// [`PostgresUserStore::group_store`] of a store with the outbox has it on already.
    pub fn with_outbox(mut self) -> Self {
        self.users.outbox = true;
        self
    }
}

impl PostgresUserStore {
    /// The [`PostgresGroupStore`] of this store's database: its members are this store's
    /// users, it shares this store's pool and reserved version numbers, and it records
    /// events when this store does ([`PostgresUserStore::with_outbox`]). To serve
    /// `/Groups`, pass it to [`ScimServerBuilder::groups`](crate::ScimServerBuilder::groups).
    pub fn group_store(&self) -> PostgresGroupStore {
        PostgresGroupStore {
            users: self.clone(),
        }
    }
}

/// The statements in PostgreSQL's dialect.
fn statements() -> &'static Statements {
    static SQL: OnceLock<Statements> = OnceLock::new();
    SQL.get_or_init(|| {
        let mut sql = Statements::new(
            // DISTINCT: without it PostgreSQL may plan `x IN (SELECT srf(...))` as a
            // nested-loop semi join that runs the function again for each row of the
            // group (a table not analyzed yet looks like one row): 500 ms to remove 1,000
            // members of a group of 1,000, where the hashed list takes milliseconds.
            |p| format!("SELECT DISTINCT json_array_elements_text(CAST({p} AS json))"),
            " FOR KEY SHARE OF u",
            " FOR UPDATE",
            |s| dollar_placeholders(&s),
        );
        // The groups of a page of users (`User.groups`), looked up id by id in the index
        // on users and then group by group in the primary key: `OFFSET 0` keeps each
        // LATERAL subquery a fence, so the planner cannot turn it into a hash join that
        // reads every membership and every group of the tenant (13 ms for a page of 100
        // users in a tenant of 10,000 memberships, growing with the tenant; this way
        // ~1 ms, growing with the page's memberships).
        sql.groups_of = "SELECT m.user_id, g.id, g.display_name \
             FROM (SELECT DISTINCT json_array_elements_text(CAST($2 AS json)) AS uid) AS ids \
             CROSS JOIN LATERAL (SELECT mm.user_id, mm.group_id FROM scimkit_group_members mm \
             WHERE mm.tenant = $1 AND mm.user_id = ids.uid OFFSET 0) AS m \
             CROSS JOIN LATERAL (SELECT gg.id, gg.display_name FROM scimkit_groups gg \
             WHERE gg.tenant = $1 AND gg.id = m.group_id OFFSET 0) AS g"
            .to_owned();
        sql
    })
}

/// `step` with its arguments bound (the write's `version` for [`Value::Version`]).
fn query(step: &Step, version: Option<i64>) -> PgQuery<'_> {
    step.args
        .iter()
        .fold(sqlx::query(&step.sql), |q, a| match a {
            Value::Text(t) => q.bind(t.as_deref()),
            Value::Int(i) => q.bind(*i),
            Value::Version => q.bind(version),
        })
}

/// A row's cells, as `columns` says.
fn cells(row: &PgRow, columns: &[Kind]) -> Result<Row> {
    columns
        .iter()
        .enumerate()
        .map(|(i, kind)| match kind {
            Kind::Text => row.try_get(i).map(Cell::Text),
            Kind::Int => row.try_get(i).map(Cell::Int),
        })
        .collect::<Result<Row, _>>()
        .map_err(map_db_error)
}

/// Runs `step` on `conn` and reads its rows.
async fn run(
    conn: &mut PgConnection,
    step: &Step,
    version: Option<i64>,
) -> sqlx::Result<Vec<PgRow>> {
    query(step, version).fetch_all(conn).await
}

/// What a write's attempt came to.
enum Attempt {
    /// Its result.
    Done(Result<Vec<Vec<Row>>>),
    /// PostgreSQL aborted it as a deadlock (or a serialization failure): run it again.
    Again,
}

/// Whether PostgreSQL aborted a transaction that may succeed when run again.
fn retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

impl PostgresGroupStore {
    /// One attempt at the steps of a write, in a transaction, with its `events`.
    async fn attempt(
        &self,
        steps: &[Step],
        version: Option<i64>,
        events: Option<&Events>,
    ) -> Attempt {
        let failed = |e: sqlx::Error| {
            if retryable(&e) {
                Attempt::Again
            } else {
                Attempt::Done(Err(map_db_error(e)))
            }
        };
        // A connection kept by the user store (see `kept`): kept again after a commit,
        // back to the pool after anything else.
        let mut conn = match self.users.conns.get().await {
            Ok(conn) => conn,
            Err(e) => return Attempt::Done(Err(e)),
        };
        let mut tx = match sqlx::Connection::begin(&mut *conn).await {
            Ok(tx) => tx,
            Err(e) => return failed(e),
        };
        let mut results = Vec::with_capacity(steps.len());
        for step in steps {
            let rows = match run(&mut tx, step, version).await {
                Ok(rows) => rows,
                Err(e) => return failed(e),
            };
            if step.guard && rows.is_empty() {
                // Dropping the transaction rolls it back.
                let exists = Step {
                    sql: statements().exists.as_str().into(),
                    args: step.args.iter().take(2).cloned().collect(),
                    columns: &[],
                    guard: false,
                };
                return match run(&mut tx, &exists, None).await {
                    Ok(found) => Attempt::Done(Err(missed(!found.is_empty()))),
                    Err(e) => failed(e),
                };
            }
            match rows.iter().map(|r| cells(r, step.columns)).collect() {
                Ok(rows) => results.push(rows),
                Err(e) => return Attempt::Done(Err(e)),
            }
        }
        if let Some(events) = events {
            let rows = match events(&results) {
                Ok(rows) => rows,
                Err(e) => return Attempt::Done(Err(e)),
            };
            if !rows.is_empty() {
                // Staged in the write's transaction (the reader numbers them).
                let insert =
                    outbox::bind_postgres_arrays(sqlx::query(outbox::postgres_insert_sql()), &rows);
                if let Err(e) = insert.execute(&mut *tx).await {
                    return failed(e);
                }
            }
        }
        match tx.commit().await {
            Ok(()) => {
                conn.done();
                Attempt::Done(Ok(results))
            }
            Err(e) => failed(e),
        }
    }
}

#[async_trait::async_trait]
impl GroupDatabase for PostgresGroupStore {
    fn statements(&self) -> &'static Statements {
        statements()
    }

    fn outbox(&self) -> bool {
        self.users.outbox
    }

    fn placeholders(&self, sql: String) -> String {
        dollar_placeholders(&sql)
    }

    /// On a kept connection the server closed, runs again on one of the pool
    /// ([`Kept::read_rows`](super::kept::Kept::read_rows)).
    async fn read(&self, step: Step) -> Result<Vec<Row>> {
        let rows = self.users.conns.read_rows(|| query(&step, None)).await?;
        rows.iter().map(|r| cells(r, step.columns)).collect()
    }

    async fn write(
        &self,
        tenant: &Arc<str>,
        steps: Vec<Step>,
        events: Option<Events>,
    ) -> Result<Vec<Vec<Row>>> {
        let needs_version = steps.iter().any(|s| s.args.contains(&Value::Version));
        // One value for every attempt: it is written at most once.
        let version = if needs_version {
            Some(self.users.number(tenant).await?)
        } else {
            None
        };
        for _ in 1..ATTEMPTS {
            if let Attempt::Done(result) = self.attempt(&steps, version, events.as_ref()).await {
                return result;
            }
        }
        match self.attempt(&steps, version, events.as_ref()).await {
            Attempt::Done(result) => result,
            Attempt::Again => Err(crate::store::sql::backend_msg(format!(
                "a group write was aborted as a deadlock {ATTEMPTS} times"
            ))),
        }
    }
}

sql_group_store!(PostgresGroupStore);
