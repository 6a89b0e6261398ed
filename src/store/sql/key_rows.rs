//! Rows of `scimkit_api_keys` and `scimkit_tenants`, and [`sql_key_stores!`], the one
//! implementation of [`ApiKeyStore`](crate::keys::ApiKeyStore) and
//! [`TenantStore`](crate::keys::TenantStore) shared by both dialects over the two calls
//! each dialect's database supplies ([`KeyDatabase`]).

use std::sync::Arc;

use crate::keys::{ApiKeyRecord, KeyHash, Tenant};
use crate::store::StoreError;

use super::backend_msg;
use super::driver::{Arg, ReadRow, Statement};
use super::outbox::{join_instant, split_instant};

/// The columns of a key, in the order of [`key_args`] and [`read_key`].
macro_rules! key_columns {
    () => {
        "id, tenant, name, hash, created_s, created_ns, last_used_s, last_used_ns, \
         expires_s, expires_ns, revoked_s, revoked_ns"
    };
}

/// The columns of a tenant, in the order of [`read_tenant`].
macro_rules! tenant_columns {
    () => {
        "id, scim_entitled, scim_enabled"
    };
}

/// Inserts a key: `?1`..`?12` the [`key_args`].
pub(super) static INSERT_KEY: Statement = Statement::new(concat!(
    "INSERT INTO scimkit_api_keys (",
    key_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
));

/// `SELECT <columns> FROM <table> <rest>`, a statement reading keys (`key_columns`) or
/// tenants (`tenant_columns`).
macro_rules! select {
    ($columns:ident, $table:literal, $rest:literal) => {
        Statement::new(concat!(
            "SELECT ",
            $columns!(),
            " FROM ",
            $table,
            " ",
            $rest
        ))
    };
}

/// The key whose hash is `?1` (the index `scimkit_api_keys_hash`).
pub(super) static KEY_BY_HASH: Statement =
    select!(key_columns, "scimkit_api_keys", "WHERE hash = ?1");

/// The keys of tenant `?1`, in creation order.
pub(super) static KEYS_OF_TENANT: Statement = select!(
    key_columns,
    "scimkit_api_keys",
    "WHERE tenant = ?1 ORDER BY seq"
);

/// Every key, in creation order.
pub(super) static ALL_KEYS: Statement = select!(key_columns, "scimkit_api_keys", "ORDER BY seq");

/// Revokes key `?2` of tenant `?1` at (`?3` s, `?4` ns), returning it. Both right-hand
/// sides see the row before the update: a revoked key keeps its first revocation time.
pub(super) static REVOKE_KEY: Statement = Statement::new(concat!(
    "UPDATE scimkit_api_keys SET revoked_s = COALESCE(revoked_s, CAST(?3 AS BIGINT)), \
     revoked_ns = CASE WHEN revoked_s IS NULL THEN CAST(?4 AS BIGINT) ELSE revoked_ns END \
     WHERE tenant = ?1 AND id = ?2 RETURNING ",
    key_columns!()
));

/// Records the use of key `?1` at (`?2` s, `?3` ns), never moving `last_used_at` back.
pub(super) static RECORD_USE: Statement = Statement::new(
    "UPDATE scimkit_api_keys SET last_used_s = ?2, last_used_ns = ?3 WHERE id = ?1 \
     AND (last_used_s IS NULL OR last_used_s < ?2 \
          OR (last_used_s = ?2 AND last_used_ns < ?3))",
);

/// Tenant `?1`.
pub(super) static TENANT: Statement = select!(tenant_columns, "scimkit_tenants", "WHERE id = ?1");

/// Every tenant, by id.
pub(super) static ALL_TENANTS: Statement =
    select!(tenant_columns, "scimkit_tenants", "ORDER BY id");

/// Sets one switch of tenant `?1` to `?2`, writing only that column (so the vendor's
/// entitlement and the admin's switch never overwrite each other), returning the tenant.
macro_rules! set_switch {
    ($column:literal) => {
        Statement::new(concat!(
            "INSERT INTO scimkit_tenants (id, ",
            $column,
            ") VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET ",
            $column,
            " = excluded.",
            $column,
            " RETURNING ",
            tenant_columns!()
        ))
    };
}

/// Sets `scim_entitled` (`set_switch`).
pub(super) static SET_ENTITLED: Statement = set_switch!("scim_entitled");

/// Sets `scim_enabled` (`set_switch`).
pub(super) static SET_ENABLED: Statement = set_switch!("scim_enabled");

/// A write's error on the key table: a unique violation is a taken id or hash.
pub(super) fn taken_if_unique(e: StoreError) -> StoreError {
    match e {
        StoreError::Uniqueness { .. } => StoreError::Uniqueness {
            attribute: "api key".into(),
        },
        e => e,
    }
}

fn optional(t: Option<&chrono::DateTime<chrono::Utc>>) -> (Option<i64>, Option<i64>) {
    match t.map(split_instant) {
        Some((s, ns)) => (Some(s), Some(ns)),
        None => (None, None),
    }
}

/// The values of [`INSERT_KEY`] for `k`, in order.
pub(super) fn key_args(k: &ApiKeyRecord) -> [Arg<'_>; 12] {
    let (created_s, created_ns) = split_instant(&k.created_at);
    let [used, expires, revoked] =
        [&k.last_used_at, &k.expires_at, &k.revoked_at].map(|t| optional(t.as_ref()));
    [
        Arg::text(&k.id),
        Arg::text(&k.tenant),
        Arg::text(&k.name),
        Arg::Blob(k.hash.as_bytes()),
        Arg::int(created_s),
        Arg::int(created_ns),
        Arg::Int(used.0),
        Arg::Int(used.1),
        Arg::Int(expires.0),
        Arg::Int(expires.1),
        Arg::Int(revoked.0),
        Arg::Int(revoked.1),
    ]
}

/// A key row as read, before its checks.
struct RawKey<'r> {
    id: &'r str,
    tenant: &'r str,
    name: &'r str,
    hash: &'r [u8],
    created: (Option<i64>, Option<i64>),
    last_used: (Option<i64>, Option<i64>),
    expires: (Option<i64>, Option<i64>),
    revoked: (Option<i64>, Option<i64>),
}

impl RawKey<'_> {
    /// The key of this row: its hash and instants checked.
    fn into_record(self) -> Result<ApiKeyRecord, StoreError> {
        let instant = |(s, ns): (Option<i64>, Option<i64>)| match (s, ns) {
            (Some(s), Some(ns)) => join_instant(s, ns).map(Some),
            _ => Ok(None),
        };
        let hash: [u8; 32] = self
            .hash
            .try_into()
            .map_err(|_| backend_msg("a stored API key hash is not 32 bytes"))?;
        Ok(ApiKeyRecord {
            id: Arc::from(self.id),
            tenant: Arc::from(self.tenant),
            name: self.name.to_owned(),
            hash: KeyHash::from_bytes(hash),
            created_at: instant(self.created)?
                .ok_or_else(|| backend_msg("a stored API key has no creation time"))?,
            last_used_at: instant(self.last_used)?,
            expires_at: instant(self.expires)?,
            revoked_at: instant(self.revoked)?,
        })
    }
}

/// Reads a key row (the columns of `key_columns`, in order).
pub(super) fn read_key(row: &dyn ReadRow) -> Result<ApiKeyRecord, StoreError> {
    RawKey {
        id: row.text(0)?,
        tenant: row.text(1)?,
        name: row.text(2)?,
        hash: row.blob(3)?,
        created: row.pair(4)?,
        last_used: row.pair(6)?,
        expires: row.pair(8)?,
        revoked: row.pair(10)?,
    }
    .into_record()
}

/// Reads a tenant row (the columns of `tenant_columns`, in order).
pub(super) fn read_tenant(row: &dyn ReadRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.text(0)?.to_owned(),
        scim_entitled: row.boolean(1)?,
        scim_enabled: row.boolean(2)?,
    })
}

/// Reads one row a statement returns.
pub(super) type ReadFn<T> = fn(&dyn ReadRow) -> Result<T, StoreError>;

/// One of the statements above with its arguments (in order), and whether it writes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Query<'a> {
    /// The statement.
    pub(super) statement: &'static Statement,
    /// Its arguments, in order.
    pub(super) args: &'a [Arg<'a>],
    /// Whether it writes (then it runs where the dialect commits writes; PostgreSQL runs
    /// reads and writes alike).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(super) writes: bool,
}

impl<'a> Query<'a> {
    /// A statement that only reads.
    pub(super) fn read(statement: &'static Statement, args: &'a [Arg<'a>]) -> Self {
        Self {
            statement,
            args,
            writes: false,
        }
    }

    /// A statement that writes.
    pub(super) fn write(statement: &'static Statement, args: &'a [Arg<'a>]) -> Self {
        Self {
            statement,
            args,
            writes: true,
        }
    }
}

/// What a dialect's database supplies to the key and tenant stores: it runs a [`Query`]
/// and reads every row it returns (a write's once it is committed). A unique violation is
/// [`StoreError::Uniqueness`].
#[async_trait::async_trait]
pub(super) trait KeyDatabase: Send + Sync {
    /// The rows `query` returns, each read with `read`.
    async fn rows<T: Send + 'static>(
        &self,
        query: Query<'_>,
        read: ReadFn<T>,
    ) -> Result<Vec<T>, StoreError>;
}

/// A write's rows that the caller does not read.
pub(super) fn ignore(_: &dyn ReadRow) -> Result<(), StoreError> {
    Ok(())
}

/// The first row a statement returned, if any.
pub(super) fn first<T>(rows: Vec<T>) -> Option<T> {
    rows.into_iter().next()
}

/// Sets one switch of `tenant` with `statement` ([`SET_ENTITLED`] or [`SET_ENABLED`]).
pub(super) async fn set_switch(
    db: &impl KeyDatabase,
    statement: &'static Statement,
    tenant: &str,
    on: bool,
) -> Result<Tenant, StoreError> {
    let args = [Arg::text(tenant), Arg::Bool(Some(on))];
    first(db.rows(Query::write(statement, &args), read_tenant).await?)
        .ok_or_else(|| backend_msg("setting a tenant's switch returned no row"))
}

/// Implements [`ApiKeyStore`](crate::keys::ApiKeyStore) for `$keys` and
/// [`TenantStore`](crate::keys::TenantStore) for `$tenants`, both over their field `$db`, a
/// [`KeyDatabase`]: the statements, their arguments and the reading of their rows are
/// written here once; a dialect supplies only how its database runs a [`Query`]. The
/// module that calls it imports `Result` (the SQL stores' alias, with
/// [`StoreError`]).
macro_rules! sql_key_stores {
    ($keys:ident, $tenants:ident, $db:ident) => {
        const _: () = {
            use chrono::{DateTime, Utc};

            use crate::keys::{ApiKeyRecord, ApiKeyStore, KeyHash, Tenant, TenantStore};
            use crate::store::sql::driver::Arg;
            use crate::store::sql::key_rows::{
                ALL_KEYS, ALL_TENANTS, INSERT_KEY, KEY_BY_HASH, KEYS_OF_TENANT, KeyDatabase, Query,
                RECORD_USE, REVOKE_KEY, SET_ENABLED, SET_ENTITLED, TENANT, first, ignore, key_args,
                read_key, read_tenant, set_switch, taken_if_unique,
            };
            use crate::store::sql::outbox::split_instant;

            #[async_trait::async_trait]
            impl ApiKeyStore for $keys {
                async fn insert(&self, key: ApiKeyRecord) -> Result<()> {
                    let args = key_args(&key);
                    let written = self
                        .$db
                        .rows(Query::write(&INSERT_KEY, &args), ignore)
                        .await;
                    written.map_err(taken_if_unique)?;
                    Ok(())
                }

                async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>> {
                    let args = [Arg::Blob(&hash.as_bytes()[..])];
                    Ok(first(
                        self.$db
                            .rows(Query::read(&KEY_BY_HASH, &args), read_key)
                            .await?,
                    ))
                }

                async fn list(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>> {
                    let (statement, args) = match tenant {
                        Some(tenant) => (&KEYS_OF_TENANT, vec![Arg::text(tenant)]),
                        None => (&ALL_KEYS, Vec::new()),
                    };
                    self.$db.rows(Query::read(statement, &args), read_key).await
                }

                async fn revoke(
                    &self,
                    tenant: &str,
                    id: &str,
                    at: DateTime<Utc>,
                ) -> Result<Option<ApiKeyRecord>> {
                    let (s, ns) = split_instant(&at);
                    let args = [Arg::text(tenant), Arg::text(id), Arg::int(s), Arg::int(ns)];
                    Ok(first(
                        self.$db
                            .rows(Query::write(&REVOKE_KEY, &args), read_key)
                            .await?,
                    ))
                }

                async fn record_use(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
                    let (s, ns) = split_instant(&at);
                    let args = [Arg::text(id), Arg::int(s), Arg::int(ns)];
                    self.$db
                        .rows(Query::write(&RECORD_USE, &args), ignore)
                        .await?;
                    Ok(())
                }
            }

            #[async_trait::async_trait]
            impl TenantStore for $tenants {
                async fn get(&self, tenant: &str) -> Result<Option<Tenant>> {
                    let args = [Arg::text(tenant)];
                    Ok(first(
                        self.$db
                            .rows(Query::read(&TENANT, &args), read_tenant)
                            .await?,
                    ))
                }

                async fn list(&self) -> Result<Vec<Tenant>> {
                    self.$db
                        .rows(Query::read(&ALL_TENANTS, &[]), read_tenant)
                        .await
                }

                async fn set_scim_entitled(&self, tenant: &str, entitled: bool) -> Result<Tenant> {
                    set_switch(&self.$db, &SET_ENTITLED, tenant, entitled).await
                }

                async fn set_scim_enabled(&self, tenant: &str, enabled: bool) -> Result<Tenant> {
                    set_switch(&self.$db, &SET_ENABLED, tenant, enabled).await
                }
            }
        };
    };
}
pub(super) use sql_key_stores;
