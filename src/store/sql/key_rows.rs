//! Rows of `scimkit_api_keys` and `scimkit_tenants`, shared by both dialects.

use std::sync::Arc;

#[cfg(feature = "postgres")]
use crate::keys::Tenant;
use crate::keys::{ApiKeyRecord, KeyHash};
use crate::store::StoreError;

use super::backend_msg;
#[cfg(feature = "postgres")]
use super::map_db_error;
use super::outbox::{join_instant, split_instant};

/// The columns of a key, in the order [`KeyRow`] binds them and [`read_key`] reads them.
pub(super) const KEY_COLUMNS: &str = "id, tenant, name, hash, created_s, created_ns, \
     last_used_s, last_used_ns, expires_s, expires_ns, revoked_s, revoked_ns";

/// The columns of a tenant.
pub(super) const TENANT_COLUMNS: &str = "id, scim_entitled, scim_enabled";

/// Unique violations on the key table are a taken id or hash; anything else is
/// [`StoreError::Backend`].
#[cfg(feature = "postgres")]
pub(super) fn map_key_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.kind() == sqlx::error::ErrorKind::UniqueViolation {
            return StoreError::Uniqueness {
                attribute: "api key".into(),
            };
        }
    }
    map_db_error(e)
}

/// An [`ApiKeyRecord`] as column values.
pub(super) struct KeyRow<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub name: &'a str,
    pub hash: &'a [u8],
    pub created: (i64, i64),
    pub last_used: (Option<i64>, Option<i64>),
    pub expires: (Option<i64>, Option<i64>),
    pub revoked: (Option<i64>, Option<i64>),
}

fn optional(t: Option<&chrono::DateTime<chrono::Utc>>) -> (Option<i64>, Option<i64>) {
    match t.map(split_instant) {
        Some((s, ns)) => (Some(s), Some(ns)),
        None => (None, None),
    }
}

impl<'a> KeyRow<'a> {
    pub fn new(k: &'a ApiKeyRecord) -> Self {
        Self {
            id: &k.id,
            tenant: &k.tenant,
            name: &k.name,
            hash: k.hash.as_bytes(),
            created: split_instant(&k.created_at),
            last_used: optional(k.last_used_at.as_ref()),
            expires: optional(k.expires_at.as_ref()),
            revoked: optional(k.revoked_at.as_ref()),
        }
    }
}

/// A key row as read, before its checks.
pub(super) struct RawKey<'r> {
    pub id: &'r str,
    pub tenant: &'r str,
    pub name: &'r str,
    pub hash: &'r [u8],
    pub created: (Option<i64>, Option<i64>),
    pub last_used: (Option<i64>, Option<i64>),
    pub expires: (Option<i64>, Option<i64>),
    pub revoked: (Option<i64>, Option<i64>),
}

impl RawKey<'_> {
    /// The key of this row: its hash and instants checked.
    pub fn into_record(self) -> Result<ApiKeyRecord, StoreError> {
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

/// Reads a key row.
#[cfg(feature = "postgres")]
pub(super) fn read_key<'r, R>(row: &'r R) -> Result<ApiKeyRecord, StoreError>
where
    R: sqlx::Row,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'r [u8]: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'static str: sqlx::ColumnIndex<R>,
{
    let text = |name: &'static str| row.try_get::<&str, _>(name).map_err(map_db_error);
    let pair = |s: &'static str, ns: &'static str| -> Result<_, StoreError> {
        let s: Option<i64> = row.try_get(s).map_err(map_db_error)?;
        let ns: Option<i64> = row.try_get(ns).map_err(map_db_error)?;
        Ok((s, ns))
    };
    RawKey {
        id: text("id")?,
        tenant: text("tenant")?,
        name: text("name")?,
        hash: row.try_get("hash").map_err(map_db_error)?,
        created: pair("created_s", "created_ns")?,
        last_used: pair("last_used_s", "last_used_ns")?,
        expires: pair("expires_s", "expires_ns")?,
        revoked: pair("revoked_s", "revoked_ns")?,
    }
    .into_record()
}

/// Reads a tenant row.
#[cfg(feature = "postgres")]
pub(super) fn read_tenant<'r, R>(row: &'r R) -> Result<Tenant, StoreError>
where
    R: sqlx::Row,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'static str: sqlx::ColumnIndex<R>,
{
    Ok(Tenant {
        id: row
            .try_get::<&str, _>("id")
            .map_err(map_db_error)?
            .to_owned(),
        scim_entitled: row.try_get("scim_entitled").map_err(map_db_error)?,
        scim_enabled: row.try_get("scim_enabled").map_err(map_db_error)?,
    })
}
