//! [`SqliteApiKeyStore`] and [`SqliteTenantStore`]: API keys and tenant switches in SQLite.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use super::key_rows::{KEY_COLUMNS, KeyRow, TENANT_COLUMNS, map_key_error, read_key, read_tenant};
use super::map_db_error;
use super::outbox::split_instant;
use super::sqlite::{connect_pool, open_pool, pool_with};
use crate::keys::{ApiKeyRecord, ApiKeyStore, KeyHash, Tenant, TenantStore};
use crate::store::{SqliteUserStore, StoreError};

/// An [`ApiKeyStore`] in SQLite (table `scimkit_api_keys`), for
/// [`ApiKeys`](crate::keys::ApiKeys).
///
/// Keeps only the SHA-256 digest of each secret, under a unique index: every request is
/// authenticated by one index lookup ([`ApiKeyStore::find_by_hash`]), a taken id or hash
/// is [`StoreError::Uniqueness`], revocation is one `UPDATE ... WHERE tenant = ? AND id = ?`
/// that keeps the first revocation time, and `record_use` one `UPDATE` by primary key
/// that never moves `last_used_at` back. Instants are stored as (seconds, nanoseconds),
/// so they come back exactly.
///
/// Share the database of a [`SqliteUserStore`] with [`SqliteApiKeyStore::from_pool`]
/// (one migration list prepares every table):
///
/// ```
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::keys::{ApiKeys, Tenants};
/// use scimkit::store::{SqliteApiKeyStore, SqliteTenantStore, SqliteUserStore};
///
/// let users = SqliteUserStore::open("/tmp/scimkit-doc-keys.db").await?;
/// let tenants = Tenants::new(SqliteTenantStore::from_pool(users.pool().clone()).await?);
/// let keys = ApiKeys::new(SqliteApiKeyStore::from_pool(users.pool().clone()).await?, tenants);
/// # let _ = keys;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteApiKeyStore {
    pool: SqlitePool,
}

/// A [`TenantStore`] in SQLite (table `scimkit_tenants`), for
/// [`Tenants`](crate::keys::Tenants).
///
/// Each switch is set by one `INSERT ... ON CONFLICT DO UPDATE` that writes only its own
/// column, so the vendor's entitlement and the admin's switch never overwrite each other,
/// whichever process sets them. Tenants are listed in byte order of their ids. Build it
/// over the pool of a [`SqliteUserStore`] with [`SqliteTenantStore::from_pool`] (see
/// [`SqliteApiKeyStore`]).
#[derive(Debug, Clone)]
pub struct SqliteTenantStore {
    pool: SqlitePool,
}

/// The constructors both stores share with [`SqliteUserStore`].
macro_rules! sqlite_constructors {
    ($store:ident) => {
        impl $store {
            /// A store over an existing pool (e.g. [`SqliteUserStore::pool`]), after
            /// bringing the schema up to date ([`SqliteUserStore::migrate`]).
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if a migration fails.
            pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
                SqliteUserStore::migrate(&pool).await?;
                Ok(Self { pool })
            }

            /// Opens (creating it if missing) the database file at `path`, in WAL mode with
            /// a busy timeout, and brings its schema up to date.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the file cannot be opened or migrated.
            pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
                Self::from_pool(open_pool(path.as_ref()).await?).await
            }

            /// A private in-memory database, for tests and demos. To share it with a user
            /// store, use [`Self::from_pool`] with that store's pool instead.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if SQLite cannot be started.
            pub async fn in_memory() -> Result<Self, StoreError> {
                Self::from_pool(connect_pool("sqlite::memory:").await?).await
            }

            /// Opens a database by URL: `sqlite://PATH` (created if missing) or
            /// `sqlite::memory:`.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the URL is invalid or the database cannot be
            /// opened or migrated.
            pub async fn connect(url: &str) -> Result<Self, StoreError> {
                Self::from_pool(connect_pool(url).await?).await
            }

            /// Opens a database with the given options, as
            /// [`SqliteUserStore::connect_with`] does.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the database cannot be opened or migrated.
            pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
                Self::from_pool(pool_with(options).await?).await
            }

            /// The connection pool, e.g. to share it with another store or to close it.
            pub fn pool(&self) -> &SqlitePool {
                &self.pool
            }
        }
    };
}

sqlite_constructors!(SqliteApiKeyStore);
sqlite_constructors!(SqliteTenantStore);

#[async_trait]
impl ApiKeyStore for SqliteApiKeyStore {
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        let r = KeyRow::new(&key);
        sqlx::query(&format!(
            "INSERT INTO scimkit_api_keys ({KEY_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))
        .bind(r.id)
        .bind(r.tenant)
        .bind(r.name)
        .bind(r.hash)
        .bind(r.created.0)
        .bind(r.created.1)
        .bind(r.last_used.0)
        .bind(r.last_used.1)
        .bind(r.expires.0)
        .bind(r.expires.1)
        .bind(r.revoked.0)
        .bind(r.revoked.1)
        .execute(&self.pool)
        .await
        .map_err(map_key_error)?;
        Ok(())
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM scimkit_api_keys WHERE hash = ?1"
        ))
        .bind(&hash.as_bytes()[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(map_db_error)?
        .as_ref()
        .map(read_key)
        .transpose()
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = match tenant {
            Some(tenant) => {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM scimkit_api_keys WHERE tenant = ?1 ORDER BY seq"
                ))
                .bind(tenant)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM scimkit_api_keys ORDER BY seq"
                ))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(map_db_error)?;
        rows.iter().map(read_key).collect()
    }

    async fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let (s, ns) = split_instant(&at);
        // Both right-hand sides see the row before the update: a revoked key keeps its time.
        sqlx::query(&format!(
            "UPDATE scimkit_api_keys SET revoked_s = COALESCE(revoked_s, ?3), \
             revoked_ns = CASE WHEN revoked_s IS NULL THEN ?4 ELSE revoked_ns END \
             WHERE tenant = ?1 AND id = ?2 RETURNING {KEY_COLUMNS}"
        ))
        .bind(tenant)
        .bind(id)
        .bind(s)
        .bind(ns)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_db_error)?
        .as_ref()
        .map(read_key)
        .transpose()
    }

    async fn record_use(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (s, ns) = split_instant(&at);
        sqlx::query(
            "UPDATE scimkit_api_keys SET last_used_s = ?2, last_used_ns = ?3 WHERE id = ?1 \
             AND (last_used_s IS NULL OR last_used_s < ?2 \
                  OR (last_used_s = ?2 AND last_used_ns < ?3))",
        )
        .bind(id)
        .bind(s)
        .bind(ns)
        .execute(&self.pool)
        .await
        .map_err(map_db_error)?;
        Ok(())
    }
}

impl SqliteTenantStore {
    /// Sets one switch (`column` is a constant of this module, never input).
    async fn set(&self, tenant: &str, column: &str, on: bool) -> Result<Tenant, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO scimkit_tenants (id, {column}) VALUES (?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET {column} = excluded.{column} \
             RETURNING {TENANT_COLUMNS}"
        ))
        .bind(tenant)
        .bind(on)
        .fetch_one(&self.pool)
        .await
        .map_err(map_db_error)?;
        read_tenant(&row)
    }
}

#[async_trait]
impl TenantStore for SqliteTenantStore {
    async fn get(&self, tenant: &str) -> Result<Option<Tenant>, StoreError> {
        sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM scimkit_tenants WHERE id = ?1"
        ))
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_db_error)?
        .as_ref()
        .map(read_tenant)
        .transpose()
    }

    async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM scimkit_tenants ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_db_error)?
        .iter()
        .map(read_tenant)
        .collect()
    }

    async fn set_scim_entitled(&self, tenant: &str, entitled: bool) -> Result<Tenant, StoreError> {
        self.set(tenant, "scim_entitled", entitled).await
    }

    async fn set_scim_enabled(&self, tenant: &str, enabled: bool) -> Result<Tenant, StoreError> {
        self.set(tenant, "scim_enabled", enabled).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use sqlx::Row;

    use super::*;

    #[test]
    fn keys_are_found_by_the_hash_index() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = SqliteApiKeyStore::in_memory().await.unwrap();
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT {KEY_COLUMNS} FROM scimkit_api_keys WHERE hash = ?1"
            );
            let details: Vec<String> = sqlx::query(&sql)
                .bind(&[0u8; 32][..])
                .fetch_all(store.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String, _>("detail").unwrap())
                .collect();
            assert!(
                details.iter().any(|d| d.contains("scimkit_api_keys_hash")),
                "{details:?}"
            );
        });
    }
}
