//! [`PostgresApiKeyStore`] and [`PostgresTenantStore`]: API keys and tenant switches in
//! PostgreSQL, shared by every replica.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool};

use super::driver::{Statement, bind, fetch_all, fetch_one};
use super::key_rows::{self as rows, key_args, map_key_error, read_key, read_tenant};
use super::outbox::split_instant;
use super::postgres::{connect_pool, pool_with};
use super::{Result, backend_msg, map_db_error};
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
        bind(sqlx::query(rows::INSERT_KEY.postgres()), key_args(&key))
            .execute(&self.pool)
            .await
            .map_err(map_key_error)?;
        Ok(())
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let q = sqlx::query(rows::KEY_BY_HASH.postgres()).bind(&hash.as_bytes()[..]);
        fetch_one(q, &self.pool, read_key).await
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let q = match tenant {
            Some(tenant) => sqlx::query(rows::KEYS_OF_TENANT.postgres()).bind(tenant),
            None => sqlx::query(rows::ALL_KEYS.postgres()),
        };
        fetch_all(q, &self.pool, read_key).await
    }

    async fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>> {
        let (s, ns) = split_instant(&at);
        let q = sqlx::query(rows::REVOKE_KEY.postgres())
            .bind(tenant)
            .bind(id);
        fetch_one(q.bind(s).bind(ns), &self.pool, read_key).await
    }

    async fn record_use(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (s, ns) = split_instant(&at);
        sqlx::query(rows::RECORD_USE.postgres())
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
    /// Sets one switch with `statement` ([`rows::SET_ENTITLED`] or [`rows::SET_ENABLED`]).
    async fn set(
        &self,
        statement: &Statement,
        tenant: &str,
        on: bool,
    ) -> Result<Tenant, StoreError> {
        let q = sqlx::query(statement.postgres()).bind(tenant).bind(on);
        fetch_one(q, &self.pool, read_tenant)
            .await?
            .ok_or_else(|| backend_msg("setting a tenant's switch returned no row"))
    }
}

#[async_trait]
impl TenantStore for PostgresTenantStore {
    async fn get(&self, tenant: &str) -> Result<Option<Tenant>, StoreError> {
        let q = sqlx::query(rows::TENANT.postgres()).bind(tenant);
        fetch_one(q, &self.pool, read_tenant).await
    }

    async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        fetch_all(
            sqlx::query(rows::ALL_TENANTS.postgres()),
            &self.pool,
            read_tenant,
        )
        .await
    }

    async fn set_scim_entitled(&self, tenant: &str, entitled: bool) -> Result<Tenant, StoreError> {
        self.set(&rows::SET_ENTITLED, tenant, entitled).await
    }

    async fn set_scim_enabled(&self, tenant: &str, enabled: bool) -> Result<Tenant, StoreError> {
        self.set(&rows::SET_ENABLED, tenant, enabled).await
    }
}
