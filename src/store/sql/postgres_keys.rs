//! [`PostgresApiKeyStore`] and [`PostgresTenantStore`]: API keys and tenant switches in
//! PostgreSQL, shared by every replica.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool};

use super::key_rows::{KEY_COLUMNS, KeyRow, TENANT_COLUMNS, map_key_error, read_key, read_tenant};
use super::map_db_error;
use super::outbox::split_instant;
use super::postgres::{connect_pool, pool_with};
use crate::keys::{ApiKeyRecord, ApiKeyStore, KeyHash, Tenant, TenantStore};
use crate::store::{PostgresUserStore, StoreError};

/// An [`ApiKeyStore`] in PostgreSQL (table `scimkit_api_keys`), for
/// [`ApiKeys`](crate::keys::ApiKeys).
///
/// Keeps only the SHA-256 digest of each secret, under a unique index: a request that
/// [`ApiKeys`](crate::keys::ApiKeys) does not serve from its cache is authenticated by one
/// index lookup ([`ApiKeyStore::find_by_hash`]), a taken id or hash
/// is [`StoreError::Uniqueness`], revocation is one `UPDATE ... WHERE tenant = ? AND id = ?`
/// that keeps the first revocation time, and `record_use` one `UPDATE` by primary key
/// that never moves `last_used_at` back. Instants are stored as (seconds, nanoseconds),
/// so they come back exactly.
///
/// Share the pool of a [`PostgresUserStore`] with [`PostgresApiKeyStore::from_pool`]
/// (one migration list prepares every table):
///
/// ```no_run
/// # async fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::keys::{ApiKeys, Tenants};
/// use scimkit::store::{PostgresApiKeyStore, PostgresTenantStore, PostgresUserStore};
///
/// let users = PostgresUserStore::connect("postgres://scim@db.internal/scim").await?;
/// let tenants = Tenants::new(PostgresTenantStore::from_pool(users.pool().clone()).await?);
/// let keys = ApiKeys::new(PostgresApiKeyStore::from_pool(users.pool().clone()).await?, tenants);
/// # let _ = keys;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresApiKeyStore {
    pool: PgPool,
}

/// A [`TenantStore`] in PostgreSQL (table `scimkit_tenants`), for
/// [`Tenants`](crate::keys::Tenants).
///
/// Each switch is set by one `INSERT ... ON CONFLICT DO UPDATE` that writes only its own
/// column, so the vendor's entitlement and the admin's switch never overwrite each other,
/// whichever replica sets them. Tenants are listed in byte order of their ids (the
/// column has the `C` collation). Build it
/// over the pool of a [`PostgresUserStore`] with [`PostgresTenantStore::from_pool`] (see
/// [`PostgresApiKeyStore`]).
#[derive(Debug, Clone)]
pub struct PostgresTenantStore {
    pool: PgPool,
}

/// The constructors both stores share with [`PostgresUserStore`].
macro_rules! postgres_constructors {
    ($store:ident) => {
        impl $store {
            /// A store over an existing pool (e.g. [`PostgresUserStore::pool`]), after
            /// bringing the schema up to date ([`PostgresUserStore::migrate`]).
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if a migration fails.
            pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
                PostgresUserStore::migrate(&pool).await?;
                Ok(Self { pool })
            }

            /// Connects to `url` (`postgres://user:password@host:port/database`) with a pool
            /// of up to 10 connections, and brings the schema up to date.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the URL is invalid, the server unreachable, or a
            /// migration fails.
            pub async fn connect(url: &str) -> Result<Self, StoreError> {
                Self::from_pool(connect_pool(url).await?).await
            }

            /// Connects with the given options, as [`PostgresUserStore::connect_with`] does.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the server is unreachable or a migration fails.
            pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
                Self::from_pool(pool_with(options).await?).await
            }

            /// The connection pool, e.g. to share it with another store or to close it.
            pub fn pool(&self) -> &PgPool {
                &self.pool
            }
        }
    };
}

postgres_constructors!(PostgresApiKeyStore);
postgres_constructors!(PostgresTenantStore);

#[async_trait]
impl ApiKeyStore for PostgresApiKeyStore {
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        let r = KeyRow::new(&key);
        sqlx::query(&format!(
            "INSERT INTO scimkit_api_keys ({KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
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
            "SELECT {KEY_COLUMNS} FROM scimkit_api_keys WHERE hash = $1"
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
                    "SELECT {KEY_COLUMNS} FROM scimkit_api_keys WHERE tenant = $1 ORDER BY seq"
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
            "UPDATE scimkit_api_keys SET revoked_s = COALESCE(revoked_s, $3::bigint), \
             revoked_ns = CASE WHEN revoked_s IS NULL THEN $4::bigint ELSE revoked_ns END \
             WHERE tenant = $1 AND id = $2 RETURNING {KEY_COLUMNS}"
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
            "UPDATE scimkit_api_keys SET last_used_s = $2, last_used_ns = $3 WHERE id = $1 \
             AND (last_used_s IS NULL OR last_used_s < $2 \
                  OR (last_used_s = $2 AND last_used_ns < $3))",
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

impl PostgresTenantStore {
    /// Sets one switch (`column` is a constant of this module, never input).
    async fn set(&self, tenant: &str, column: &str, on: bool) -> Result<Tenant, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO scimkit_tenants (id, {column}) VALUES ($1, $2) \
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
impl TenantStore for PostgresTenantStore {
    async fn get(&self, tenant: &str) -> Result<Option<Tenant>, StoreError> {
        sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM scimkit_tenants WHERE id = $1"
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
