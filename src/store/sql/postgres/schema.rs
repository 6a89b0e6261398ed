//! Pools and migrations of the PostgreSQL stores.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::store::StoreError;
use crate::store::sql::map_db_error;
use crate::store::sql::migrations::{POSTGRES, pending};

/// Key of the advisory lock that serializes migrations across processes.
const MIGRATION_LOCK: i64 = 0x5c13_6b17_0001;

/// A pool of up to 10 connections to `url`.
pub(in crate::store::sql) async fn connect_pool(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(map_db_error)?;
    pool_with(options).await
}

/// Run on each connection a pool of [`pool_with`] opens: the planner's cost of a random
/// page read lowered from its default (4, a spinning disk's ratio to a sequential read)
/// to 1.1, the value commonly used for SSDs and for data that is cached, as scimkit's
/// tables are (read by key, a row at a time). With 4, a tenant's list page that reaches
/// into the middle of its users (`startIndex=401&count=100` of 1,000) is planned as a read
/// of all its rows and a sort (or, before the table has statistics, a bitmap scan and a
/// sort), three to four times slower than reading the index of its order (`(tenant,
/// seq)`, or the family-name index of migration 0006) up to the page. Only when nobody
/// set the cost (its source is the default): a value from the server's configuration,
/// the database, the role or the connection's options is kept.
const PLANNER_COSTS: &str = "SELECT set_config('random_page_cost', '1.1', false) \
     FROM pg_settings WHERE name = 'random_page_cost' AND source = 'default'";

/// A pool of up to 10 connections with `options`, the planner's costs set for scimkit's
/// tables ([`PLANNER_COSTS`]: one statement when a connection opens).
///
/// Without `test_before_acquire`: sqlx would otherwise send a ping (one round trip) before
/// every use of a pooled connection, doubling the round trips of a GET. A connection
/// the server closed fails its next statement instead (a 500 for that one request), and
/// is dropped from the pool; idle connections are closed after 10 minutes and every
/// connection after 30 (sqlx's defaults), before servers or proxies usually drop them.
/// Statements are prepared once per connection and cached (sqlx's default, 100 per
/// connection), so a request sends only Bind/Execute/Sync.
pub(in crate::store::sql) async fn pool_with(
    options: PgConnectOptions,
) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(10)
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query(PLANNER_COSTS).execute(conn).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(map_db_error)
}

pub(super) async fn current_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
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
    for m in pending(POSTGRES, version, target) {
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| m.failed("PostgreSQL", e))?;
        sqlx::query("INSERT INTO scimkit_schema_migrations (version, description) VALUES ($1, $2)")
            .bind(m.version)
            .bind(m.description)
            .execute(&mut *tx)
            .await
            .map_err(map_db_error)?;
        version = m.version;
    }
    tx.commit().await.map_err(map_db_error)?;
    Ok(version)
}
