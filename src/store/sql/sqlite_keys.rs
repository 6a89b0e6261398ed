//! [`SqliteApiKeyStore`] and [`SqliteTenantStore`]: API keys and tenant switches in SQLite.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row};

use super::key_rows::{KEY_COLUMNS, KeyRow, RawKey, TENANT_COLUMNS};
use super::outbox::split_instant;
use super::sqlite_db::{SqliteDatabase, map_error, unique_violation};
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

/// The constructors both stores share with [`SqliteUserStore`](super::SqliteUserStore).
macro_rules! sqlite_constructors {
    ($store:ident) => {
        impl $store {
            /// A store over `db` (e.g. [`SqliteUserStore::database`](super::SqliteUserStore::database)),
            /// sharing its connections.
            pub fn new(db: SqliteDatabase) -> Self {
                Self { db }
            }

            /// Opens (creating it if missing) the database file at `path`
            /// ([`SqliteDatabase::open`]), and brings its schema up to date.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the file cannot be opened or migrated.
            pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
                SqliteDatabase::open(path).map(Self::new)
            }

            /// A private in-memory database, for tests and demos. To share it with a user
            /// store, use [`Self::new`] with that store's database instead.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if SQLite cannot be started.
            pub async fn in_memory() -> Result<Self, StoreError> {
                SqliteDatabase::in_memory().map(Self::new)
            }

            /// Opens a database by URL: `sqlite://PATH` (created if missing) or
            /// `sqlite::memory:`.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the URL is invalid or the database cannot be
            /// opened or migrated.
            pub async fn connect(url: &str) -> Result<Self, StoreError> {
                SqliteDatabase::connect(url).map(Self::new)
            }

            /// The database, e.g. to share it with another store.
            pub fn database(&self) -> &SqliteDatabase {
                &self.db
            }
        }
    };
}

sqlite_constructors!(SqliteApiKeyStore);
sqlite_constructors!(SqliteTenantStore);

/// Unique violations on the key table are a taken id or hash.
fn map_key_error(e: rusqlite::Error) -> StoreError {
    if unique_violation(&e).is_some() {
        return StoreError::Uniqueness {
            attribute: "api key".into(),
        };
    }
    map_error(e)
}

fn read_key(row: &Row<'_>) -> rusqlite::Result<Result<ApiKeyRecord, StoreError>> {
    let text = |i: usize| row.get_ref(i).and_then(|v| Ok(v.as_str()?));
    let pair = |i: usize| -> rusqlite::Result<(Option<i64>, Option<i64>)> {
        Ok((row.get(i)?, row.get(i + 1)?))
    };
    Ok(RawKey {
        id: text(0)?,
        tenant: text(1)?,
        name: text(2)?,
        hash: row.get_ref(3)?.as_blob()?,
        created: pair(4)?,
        last_used: pair(6)?,
        expires: pair(8)?,
        revoked: pair(10)?,
    }
    .into_record())
}

fn read_tenant(row: &Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: row.get(0)?,
        scim_entitled: row.get(1)?,
        scim_enabled: row.get(2)?,
    })
}

/// The keys selected by `sql` with `params`.
fn keys(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(map_error)?;
    let rows = st.query_map(params, read_key).map_err(map_error)?;
    rows.map(|r| r.map_err(map_error).and_then(|k| k)).collect()
}

#[async_trait]
impl ApiKeyStore for SqliteApiKeyStore {
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.db
            .write(move |conn| {
                let r = KeyRow::new(&key);
                conn.prepare_cached(&format!(
                    "INSERT INTO scimkit_api_keys ({KEY_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ))
                .and_then(|mut st| {
                    st.execute(rusqlite::params![
                        r.id,
                        r.tenant,
                        r.name,
                        r.hash,
                        r.created.0,
                        r.created.1,
                        r.last_used.0,
                        r.last_used.1,
                        r.expires.0,
                        r.expires.1,
                        r.revoked.0,
                        r.revoked.1,
                    ])
                })
                .map_err(map_key_error)?;
                Ok(())
            })
            .await
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.db.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM scimkit_api_keys WHERE hash = ?1"
            ))
            .and_then(|mut st| st.query_row([&hash.as_bytes()[..]], read_key).optional())
            .map_err(map_error)?
            .transpose()
        })
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.db.read(|conn| match tenant {
            Some(tenant) => keys(
                conn,
                &format!(
                    "SELECT {KEY_COLUMNS} FROM scimkit_api_keys WHERE tenant = ?1 ORDER BY seq"
                ),
                [tenant],
            ),
            None => keys(
                conn,
                &format!("SELECT {KEY_COLUMNS} FROM scimkit_api_keys ORDER BY seq"),
                [],
            ),
        })
    }

    async fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let (s, ns) = split_instant(&at);
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        self.db
            .write(move |conn| {
                // Both right-hand sides see the row before the update: a revoked key keeps its time.
                conn.prepare_cached(&format!(
                    "UPDATE scimkit_api_keys SET revoked_s = COALESCE(revoked_s, ?3), \
                 revoked_ns = CASE WHEN revoked_s IS NULL THEN ?4 ELSE revoked_ns END \
                 WHERE tenant = ?1 AND id = ?2 RETURNING {KEY_COLUMNS}"
                ))
                .and_then(|mut st| {
                    st.query_row(rusqlite::params![tenant, id, s, ns], read_key)
                        .optional()
                })
                .map_err(map_error)?
                .transpose()
            })
            .await
    }

    async fn record_use(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (s, ns) = split_instant(&at);
        let id = id.to_owned();
        self.db
            .write(move |conn| {
                conn.prepare_cached(
                    "UPDATE scimkit_api_keys SET last_used_s = ?2, last_used_ns = ?3 WHERE id = ?1 \
                 AND (last_used_s IS NULL OR last_used_s < ?2 \
                      OR (last_used_s = ?2 AND last_used_ns < ?3))",
                )
                .and_then(|mut st| st.execute(rusqlite::params![id, s, ns]))
                .map_err(map_error)?;
                Ok(())
            })
            .await
    }
}

impl SqliteTenantStore {
    /// Sets one switch (`column` is a constant of this module, never input).
    async fn set(
        &self,
        tenant: &str,
        column: &'static str,
        on: bool,
    ) -> Result<Tenant, StoreError> {
        let tenant = tenant.to_owned();
        self.db
            .write(move |conn| {
                conn.prepare_cached(&format!(
                    "INSERT INTO scimkit_tenants (id, {column}) VALUES (?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET {column} = excluded.{column} \
                 RETURNING {TENANT_COLUMNS}"
                ))
                .and_then(|mut st| st.query_row(rusqlite::params![tenant, on], read_tenant))
                .map_err(map_error)
            })
            .await
    }
}

#[async_trait]
impl TenantStore for SqliteTenantStore {
    async fn get(&self, tenant: &str) -> Result<Option<Tenant>, StoreError> {
        self.db.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {TENANT_COLUMNS} FROM scimkit_tenants WHERE id = ?1"
            ))
            .and_then(|mut st| st.query_row([tenant], read_tenant).optional())
            .map_err(map_error)
        })
    }

    async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        self.db.read(|conn| {
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {TENANT_COLUMNS} FROM scimkit_tenants ORDER BY id"
                ))
                .map_err(map_error)?;
            let rows = st.query_map([], read_tenant).map_err(map_error)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_error)
        })
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

    use super::*;

    #[test]
    fn keys_are_found_by_the_hash_index() {
        let db = SqliteDatabase::in_memory().unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT {KEY_COLUMNS} FROM scimkit_api_keys WHERE hash = ?1"
        );
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
