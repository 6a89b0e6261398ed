//! [`SqliteApiKeyStore`] and [`SqliteTenantStore`]: API keys and tenant switches in SQLite.

use async_trait::async_trait;

use super::Result;
use super::driver::sqlite_all;
use super::key_rows::{KeyDatabase, Query, ReadFn, sql_key_stores};
use super::sqlite_db::SqliteDatabase;
use crate::store::StoreError;

/// An [`ApiKeyStore`](crate::keys::ApiKeyStore) in SQLite (table `scimkit_api_keys`), for
/// [`ApiKeys`](crate::keys::ApiKeys).
///
/// Keeps only the SHA-256 digest of each secret, under a unique index: every request is
/// authenticated by one index lookup ([`ApiKeyStore::find_by_hash`](crate::keys::ApiKeyStore::find_by_hash)), a taken id or hash
/// is [`StoreError::Uniqueness`](crate::StoreError::Uniqueness), revocation is one `UPDATE ... WHERE tenant = ? AND id = ?`
/// that keeps the first revocation time, and `record_use` one `UPDATE` by primary key
/// that never moves `last_used_at` back. Instants are stored as (seconds, nanoseconds),
/// so they come back exactly. Reads run inline on the database's read connections, writes
/// through its one writer ([`SqliteDatabase`]).
///
/// Share the database of a [`SqliteUserStore`](super::SqliteUserStore) with
/// [`SqliteApiKeyStore::new`] (one migration list prepares every table):
///
/// ```
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::keys::{ApiKeys, Tenants};
/// use scimkit::store::{SqliteApiKeyStore, SqliteTenantStore, SqliteUserStore};
///
/// let users = SqliteUserStore::open("/tmp/scimkit-doc-keys.db").await?;
/// let tenants = Tenants::new(SqliteTenantStore::new(users.database().clone()));
/// let keys = ApiKeys::new(SqliteApiKeyStore::new(users.database().clone()), tenants);
/// # let _ = keys;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteApiKeyStore {
    db: SqliteDatabase,
}

/// A [`TenantStore`](crate::keys::TenantStore) in SQLite (table `scimkit_tenants`), for
/// [`Tenants`](crate::keys::Tenants).
///
/// Each switch is set by one `INSERT ... ON CONFLICT DO UPDATE` that writes only its own
/// column, so the vendor's entitlement and the admin's switch never overwrite each other,
/// whichever process sets them. Tenants are listed in byte order of their ids. Build it
/// over the database of a [`SqliteUserStore`](super::SqliteUserStore) with
/// [`SqliteTenantStore::new`] (see [`SqliteApiKeyStore`]).
#[derive(Debug, Clone)]
pub struct SqliteTenantStore {
    db: SqliteDatabase,
}

impl SqliteApiKeyStore {
    /// A store over `db` (e.g. [`SqliteUserStore::database`](super::SqliteUserStore::database)),
    /// sharing its connections.
    pub fn new(db: SqliteDatabase) -> Self {
        Self { db }
    }
}

impl SqliteTenantStore {
    /// A store over `db` (e.g. [`SqliteUserStore::database`](super::SqliteUserStore::database)),
    /// sharing its connections.
    pub fn new(db: SqliteDatabase) -> Self {
        Self { db }
    }
}

sqlite_constructors!(SqliteApiKeyStore);
sqlite_constructors!(SqliteTenantStore);

sql_key_stores!(SqliteApiKeyStore, SqliteTenantStore, db);

/// SQLite reads inline on a read connection and writes through the database's one writer.
#[async_trait]
impl KeyDatabase for SqliteDatabase {
    async fn rows<T: Send + 'static>(&self, query: Query<'_>, read: ReadFn<T>) -> Result<Vec<T>> {
        let sql = query.statement.sqlite();
        if !query.writes {
            let args = rusqlite::params_from_iter(query.args);
            return self.read(|conn| sqlite_all(conn, sql, args, |r| read(r)));
        }
        // The writer runs it later: the arguments go with it.
        let args: Vec<rusqlite::types::Value> = query.args.iter().map(|&a| a.into()).collect();
        self.write(move |conn| {
            sqlite_all(conn, sql, rusqlite::params_from_iter(&args), |r| read(r))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::store::sql::driver::map_error;
    use crate::store::sql::key_rows as rows;

    #[test]
    fn keys_are_found_by_the_hash_index() {
        let db = SqliteDatabase::in_memory().unwrap();
        let sql = format!("EXPLAIN QUERY PLAN {}", rows::KEY_BY_HASH.sqlite());
        let details: Vec<String> = db
            .read(|conn| {
                let mut st = conn.prepare(&sql).map_err(map_error)?;
                let rows = st
                    .query_map([&[0u8; 32][..]], |r| r.get::<_, String>(3))
                    .map_err(map_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(map_error)
            })
            .unwrap();
        assert!(
            details.iter().any(|d| d.contains("scimkit_api_keys_hash")),
            "{details:?}"
        );
    }
}
