//! The storage boundary of API keys: [`ApiKeyStore`], what it keeps ([`ApiKeyRecord`]) and
//! what is shown of it ([`ApiKeyInfo`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::KeyHash;
use crate::error::StoreError;
use crate::resource::Secret;

/// An API key as a store keeps it: never the secret, only its [`KeyHash`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key id, shown in lists and logs and used to revoke the key.
    pub id: Arc<str>,
    /// The tenant the key authenticates as.
    pub tenant: Arc<str>,
    /// The name the admin gave the key (e.g. "Okta production").
    pub name: String,
    /// The SHA-256 digest of the secret.
    pub hash: KeyHash,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// When the key last authenticated a request, to within
    /// [`super::LAST_USED_GRANULARITY`].
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the key stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

// The hash is left out: it is not needed to debug anything, and it stays out of logs.
debug_fields!(ApiKeyRecord {
    id,
    tenant,
    name,
    created_at,
    last_used_at,
    expires_at,
    revoked_at
});

/// What an admin sees of an API key: everything but the secret and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyInfo {
    /// The key id.
    pub id: String,
    /// The tenant the key belongs to.
    pub tenant: String,
    /// The name the admin gave the key.
    pub name: String,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// When the key was last used (coarse: see [`super::LAST_USED_GRANULARITY`]).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the key expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyInfo {
    /// Whether the key authenticates requests at `now`: neither revoked nor expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

impl From<&ApiKeyRecord> for ApiKeyInfo {
    fn from(r: &ApiKeyRecord) -> Self {
        Self {
            id: r.id.to_string(),
            tenant: r.tenant.to_string(),
            name: r.name.clone(),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A key just created: its description and the secret, which exists only here. Show the
/// secret to the admin once; it cannot be retrieved again. `Debug` redacts it.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The key's description, as [`super::ApiKeys::list`] will show it.
    pub info: ApiKeyInfo,
    /// The secret (the bearer token). Never stored by scimkit.
    pub secret: Secret,
}

/// Persistence of API keys. Object-safe: use it as `Arc<dyn ApiKeyStore>`.
///
/// A store keeps [`ApiKeyRecord`]s and finds one by its [`KeyHash`] with an index (a hash
/// map, a unique index), never by scanning. Revoked keys stay stored, so lists show them
/// and `find_by_hash` keeps doing the same work for them as for live keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key. Fails with [`StoreError::Uniqueness`] if its id or hash is taken.
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError>;

    /// The key whose secret has this digest, revoked and expired ones included.
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// The keys of `tenant` (of every tenant with `None`), in creation order.
    async fn list(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Marks the key `id` of `tenant` revoked at `at` (a key already revoked keeps its
    /// first time) and returns it; `None` if the tenant has no such key.
    async fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Records that key `id` authenticated a request at `at`.
    async fn record_use(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// An in-memory [`ApiKeyStore`], for tests, demos and the example server.
#[derive(Debug, Default)]
pub struct MemoryApiKeyStore {
    inner: RwLock<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    by_hash: HashMap<KeyHash, ApiKeyRecord>,
    /// id → hash
    by_id: HashMap<Arc<str>, KeyHash>,
    /// hashes in creation order
    order: Vec<KeyHash>,
}

impl MemoryApiKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Keys> {
        // Writes check first and mutate after: a panic cannot leave them half done.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Keys> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ApiKeyStore for MemoryApiKeyStore {
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        let mut keys = self.write();
        if keys.by_hash.contains_key(&key.hash) || keys.by_id.contains_key(&key.id) {
            return Err(StoreError::Uniqueness {
                attribute: "api key".into(),
            });
        }
        keys.by_id.insert(key.id.clone(), key.hash);
        keys.order.push(key.hash);
        keys.by_hash.insert(key.hash, key);
        Ok(())
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.read().by_hash.get(hash).cloned())
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let keys = self.read();
        Ok(keys
            .order
            .iter()
            .filter_map(|h| keys.by_hash.get(h))
            .filter(|k| tenant.is_none_or(|t| *k.tenant == *t))
            .cloned()
            .collect())
    }

    async fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let mut keys = self.write();
        let Some(hash) = keys.by_id.get(id).copied() else {
            return Ok(None);
        };
        Ok(keys
            .by_hash
            .get_mut(&hash)
            .filter(|k| *k.tenant == *tenant)
            .map(|k| {
                k.revoked_at.get_or_insert(at);
                k.clone()
            }))
    }

    async fn record_use(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut keys = self.write();
        if let Some(hash) = keys.by_id.get(id).copied() {
            if let Some(k) = keys.by_hash.get_mut(&hash) {
                if k.last_used_at.is_none_or(|t| t < at) {
                    k.last_used_at = Some(at);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;

    fn record(id: &str, tenant: &str, secret: &str) -> ApiKeyRecord {
        ApiKeyRecord {
            id: Arc::from(id),
            tenant: Arc::from(tenant),
            name: format!("key {id}"),
            hash: KeyHash::of(secret),
            created_at: Utc::now(),
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn memory_store_finds_by_hash_lists_in_order_and_scopes_revocation() {
        block_on(async {
            let store = MemoryApiKeyStore::new();
            store.insert(record("k1", "acme", "s1")).await.unwrap();
            store.insert(record("k2", "globex", "s2")).await.unwrap();
            store.insert(record("k3", "acme", "s3")).await.unwrap();
            assert!(matches!(
                store.insert(record("k4", "acme", "s1")).await,
                Err(StoreError::Uniqueness { .. })
            ));
            assert!(matches!(
                store.insert(record("k1", "acme", "s9")).await,
                Err(StoreError::Uniqueness { .. })
            ));
            let found = store.find_by_hash(&KeyHash::of("s2")).await.unwrap();
            assert_eq!(found.unwrap().id.as_ref(), "k2");
            assert!(
                store
                    .find_by_hash(&KeyHash::of("s4"))
                    .await
                    .unwrap()
                    .is_none()
            );

            let ids = |v: Vec<ApiKeyRecord>| v.into_iter().map(|k| k.id).collect::<Vec<_>>();
            assert_eq!(
                ids(store.list(Some("acme")).await.unwrap()),
                ["k1".into(), "k3".into()]
            );
            assert_eq!(store.list(None).await.unwrap().len(), 3);

            let t = Utc::now();
            assert!(
                store.revoke("acme", "k2", t).await.unwrap().is_none(),
                "other tenant"
            );
            assert!(store.revoke("acme", "nope", t).await.unwrap().is_none());
            let r = store.revoke("acme", "k1", t).await.unwrap().unwrap();
            assert_eq!(r.revoked_at, Some(t));
            let later = t + chrono::TimeDelta::seconds(5);
            let r = store.revoke("acme", "k1", later).await.unwrap().unwrap();
            assert_eq!(r.revoked_at, Some(t), "first revocation time is kept");
            let found = store
                .find_by_hash(&KeyHash::of("s1"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(found.revoked_at, Some(t), "revoked keys are still found");

            store.record_use("k3", later).await.unwrap();
            store.record_use("k3", t).await.unwrap();
            let k3 = store
                .find_by_hash(&KeyHash::of("s3"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(k3.last_used_at, Some(later), "last use never goes back");
        });
    }

    #[test]
    fn debug_output_leaves_the_hash_out() {
        let r = record("k1", "acme", "s1");
        let debug = format!("{r:?}");
        assert!(!debug.contains("hash") && !debug.contains(&r.hash.to_hex()));
        let info = ApiKeyInfo::from(&r);
        assert!(info.is_live(Utc::now()));
        let json = serde_json::to_value(&info).unwrap();
        assert!(json.get("hash").is_none());
        assert_eq!(json["name"], "key k1");
    }
}
