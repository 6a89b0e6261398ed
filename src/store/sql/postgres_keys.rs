//! [`PostgresApiKeyStore`] and [`PostgresTenantStore`]: API keys and tenant switches in
//! PostgreSQL, shared by every replica.

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool};

use super::Result;
use super::driver::{bind, fetch_all};
use super::key_rows::{KeyDatabase, Query, ReadFn, sql_key_stores};
use super::postgres::{connect_pool, pool_with};
use crate::store::{PostgresUserStore, StoreError};

/// An [`ApiKeyStore`](crate::keys::ApiKeyStore) in PostgreSQL (table `scimkit_api_keys`), for
/// [`ApiKeys`](crate::keys::ApiKeys).
///
/// Keeps only the SHA-256 digest of each secret, under a unique index: a request that
/// [`ApiKeys`](crate::keys::ApiKeys) does not serve from its cache is authenticated by one
/// index lookup ([`ApiKeyStore::find_by_hash`](crate::keys::ApiKeyStore::find_by_hash)), a taken id or hash
/// is [`StoreError::Uniqueness`](crate::StoreError::Uniqueness), revocation is one `UPDATE ... WHERE tenant = ? AND id = ?`
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

/// A [`TenantStore`](crate::keys::TenantStore) in PostgreSQL (table `scimkit_tenants`), for
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

sql_key_stores!(PostgresApiKeyStore, PostgresTenantStore, pool);

/// PostgreSQL runs every statement of the key stores on a connection of the pool.
#[async_trait]
impl KeyDatabase for PgPool {
    async fn rows<T: Send + 'static>(&self, query: Query<'_>, read: ReadFn<T>) -> Result<Vec<T>> {
        let sql = sqlx::query(query.statement.postgres());
        fetch_all(bind(sql, query.args.iter().copied()), self, |r| read(r)).await
    }
}
