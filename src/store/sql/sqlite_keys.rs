//! [`SqliteApiKeyStore`] and [`SqliteTenantStore`]: API keys and tenant switches in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::driver::{Statement, sqlite_all, sqlite_one};
use super::key_rows::{self as rows, key_args, read_key, read_tenant, taken};
use super::outbox::split_instant;
use super::sqlite_db::{SqliteDatabase, map_error, unique_violation};
use super::{Result, backend_msg};
use crate::keys::{ApiKeyRecord, ApiKeyStore, KeyHash, Tenant, TenantStore};
use crate::store::StoreError;

/// An [`ApiKeyStore`] in SQLite (table `scimkit_api_keys`), for
/// [`ApiKeys`](crate::keys::ApiKeys).
///
/// Keeps only the SHA-256 digest of each secret, under a unique index: every request is
/// authenticated by one index lookup ([`ApiKeyStore::find_by_hash`]), a taken id or hash
/// is [`StoreError::Uniqueness`], revocation is one `UPDATE ... WHERE tenant = ? AND id = ?`
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

/// A [`TenantStore`] in SQLite (table `scimkit_tenants`), for
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

/// Unique violations on the key table are a taken id or hash.
fn map_key_error(e: rusqlite::Error) -> StoreError {
    match unique_violation(&e) {
        Some(_) => taken(),
        None => map_error(e),
    }
}

#[async_trait]
impl ApiKeyStore for SqliteApiKeyStore {
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.db
            .write(move |conn| {
                conn.prepare_cached(rows::INSERT_KEY.sqlite())
                    .and_then(|mut st| st.execute(key_args(&key)))
                    .map_err(map_key_error)?;
                Ok(())
            })
            .await
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let hash = &hash.as_bytes()[..];
        self.db
            .read(|conn| sqlite_one(conn, rows::KEY_BY_HASH.sqlite(), [hash], |r| read_key(r)))
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.db.read(|conn| match tenant {
            Some(tenant) => sqlite_all(conn, rows::KEYS_OF_TENANT.sqlite(), [tenant], |r| {
                read_key(r)
            }),
            None => sqlite_all(conn, rows::ALL_KEYS.sqlite(), [], |r| read_key(r)),
        })
    }

    async fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>> {
        let (s, ns) = split_instant(&at);
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        self.db
            .write(move |conn| {
                let args = (tenant, id, s, ns);
                sqlite_one(conn, rows::REVOKE_KEY.sqlite(), args, |r| read_key(r))
            })
            .await
    }

    async fn record_use(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (s, ns) = split_instant(&at);
        let id = id.to_owned();
        self.db
            .write(move |conn| {
                conn.prepare_cached(rows::RECORD_USE.sqlite())
                    .and_then(|mut st| st.execute((id, s, ns)))
                    .map_err(map_error)?;
                Ok(())
            })
            .await
    }
}

impl SqliteTenantStore {
    /// Sets one switch with `statement` ([`rows::SET_ENTITLED`] or [`rows::SET_ENABLED`]).
    async fn set(
        &self,
        statement: &'static Statement,
        tenant: &str,
        on: bool,
    ) -> Result<Tenant, StoreError> {
        let tenant = tenant.to_owned();
        self.db
            .write(move |conn| {
                sqlite_one(conn, statement.sqlite(), (tenant, on), |r| read_tenant(r))?
                    .ok_or_else(|| backend_msg("setting a tenant's switch returned no row"))
            })
            .await
    }
}

#[async_trait]
impl TenantStore for SqliteTenantStore {
    async fn get(&self, tenant: &str) -> Result<Option<Tenant>, StoreError> {
        self.db
            .read(|conn| sqlite_one(conn, rows::TENANT.sqlite(), [tenant], |r| read_tenant(r)))
    }

    async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        self.db
            .read(|conn| sqlite_all(conn, rows::ALL_TENANTS.sqlite(), [], |r| read_tenant(r)))
    }

    async fn set_scim_entitled(&self, tenant: &str, entitled: bool) -> Result<Tenant, StoreError> {
        self.set(&rows::SET_ENTITLED, tenant, entitled).await
    }

    async fn set_scim_enabled(&self, tenant: &str, enabled: bool) -> Result<Tenant, StoreError> {
        self.set(&rows::SET_ENABLED, tenant, enabled).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

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
