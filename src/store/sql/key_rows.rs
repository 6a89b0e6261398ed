//! Rows of `scimkit_api_keys` and `scimkit_tenants`, shared by both dialects.

use std::sync::Arc;

use crate::keys::{ApiKeyRecord, KeyHash, Tenant};
use crate::store::StoreError;

use super::backend_msg;
use super::driver::{Arg, ReadRow, Statement};
#[cfg(feature = "postgres")]
use super::map_db_error;
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

/// Unique violations on the key table are a taken id or hash; anything else is
/// [`StoreError::Backend`].
#[cfg(feature = "postgres")]
pub(super) fn map_key_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.kind() == sqlx::error::ErrorKind::UniqueViolation {
            return taken();
        }
    }
    map_db_error(e)
}

/// The error of a taken key id or hash.
pub(super) fn taken() -> StoreError {
    StoreError::Uniqueness {
        attribute: "api key".into(),
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
pub(super) fn read_key(row: &impl ReadRow) -> Result<ApiKeyRecord, StoreError> {
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
pub(super) fn read_tenant(row: &impl ReadRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.text(0)?.to_owned(),
        scim_entitled: row.boolean(1)?,
        scim_enabled: row.boolean(2)?,
    })
}
