//! Tenants (customer accounts) and their two SCIM switches.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockWriteGuard};

use async_trait::async_trait;
use serde::Serialize;

use super::AdminError;
use super::cache::{Cache, CachePolicy};
use crate::error::StoreError;

/// A tenant's SCIM settings. Requests are served only while [`Tenant::scim_active`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// The tenant id, as in [`crate::Principal::tenant`].
    pub id: String,
    /// The vendor's switch: SCIM is made available to this account. Until it is, the
    /// account's admin is not offered the SCIM switch and no API key can be created.
    pub scim_entitled: bool,
    /// The account admin's switch: SCIM provisioning is turned on.
    pub scim_enabled: bool,
}

impl Tenant {
    /// A tenant with both switches off.
    pub fn new(id: impl AsRef<str>) -> Self {
        Self {
            id: id.as_ref().to_owned(),
            scim_entitled: false,
            scim_enabled: false,
        }
    }

    /// Whether SCIM requests are served: both switches are on.
    pub fn scim_active(&self) -> bool {
        self.scim_entitled && self.scim_enabled
    }
}

/// Persistence of [`Tenant`] settings. Object-safe: use it as `Arc<dyn TenantStore>`.
///
/// The two switches are set one at a time, each atomically, so that the vendor's staff
/// and the account admin never overwrite each other's change. Setting a switch of a
/// tenant the store does not know creates it with the other switch off. Reads must see
/// every completed write: the authenticator reads the tenant on every request, and a
/// change takes effect on the next one.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// The tenant with this id, if it was ever stored.
    async fn get(&self, tenant: &str) -> Result<Option<Tenant>, StoreError>;

    /// Every stored tenant, ordered by id.
    async fn list(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Sets the vendor's switch and returns the tenant as stored.
    async fn set_scim_entitled(&self, tenant: &str, entitled: bool) -> Result<Tenant, StoreError>;

    /// Sets the account admin's switch and returns the tenant as stored.
    async fn set_scim_enabled(&self, tenant: &str, enabled: bool) -> Result<Tenant, StoreError>;
}

/// An in-memory [`TenantStore`], for tests, demos and the example server.
#[derive(Debug, Default)]
pub struct MemoryTenantStore {
    tenants: RwLock<BTreeMap<String, Tenant>>,
}

impl MemoryTenantStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Tenant>> {
        // Every write is a single field assignment: a panic cannot leave it half done.
        self.tenants.write().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, tenant: &str, set: impl FnOnce(&mut Tenant)) -> Tenant {
        let mut tenants = self.write();
        let entry = tenants
            .entry(tenant.to_owned())
            .or_insert_with(|| Tenant::new(tenant));
        set(entry);
        entry.clone()
    }
}

#[async_trait]
impl TenantStore for MemoryTenantStore {
    async fn get(&self, tenant: &str) -> Result<Option<Tenant>, StoreError> {
        let tenants = self.tenants.read().unwrap_or_else(|e| e.into_inner());
        Ok(tenants.get(tenant).cloned())
    }

    async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        let tenants = self.tenants.read().unwrap_or_else(|e| e.into_inner());
        Ok(tenants.values().cloned().collect())
    }

    async fn set_scim_entitled(&self, tenant: &str, entitled: bool) -> Result<Tenant, StoreError> {
        Ok(self.update(tenant, |t| t.scim_entitled = entitled))
    }

    async fn set_scim_enabled(&self, tenant: &str, enabled: bool) -> Result<Tenant, StoreError> {
        Ok(self.update(tenant, |t| t.scim_enabled = enabled))
    }
}

/// The rules around a [`TenantStore`]: who may turn what on, and the API URL to show.
///
/// Cheap to clone (an `Arc` inside); [`super::ApiKeys`] holds one to check entitlement
/// when a key is created and both switches on every request. Whether SCIM is on for a
/// tenant is cached for the authenticator, shared by every clone, for
/// [`CachePolicy::ttl`] (1 s by default); a switch set through any clone is seen at once
/// (see [the authentication cache](super#the-authentication-cache)). The administrative
/// reads ([`Tenants::get`], [`Tenants::list`]) always read the store.
#[derive(Clone)]
pub struct Tenants {
    store: Arc<dyn TenantStore>,
    public_url: Option<Arc<str>>,
    /// Whether SCIM is active, by tenant id.
    cache: Arc<Cache<Arc<str>, bool>>,
}

debug_fields!(Tenants { public_url, cache });

impl Tenants {
    /// Tenant rules over `store`.
    pub fn new(store: impl TenantStore + 'static) -> Self {
        Self::shared(Arc::new(store))
    }

    /// Tenant rules over a shared store.
    pub fn shared(store: Arc<dyn TenantStore>) -> Self {
        Self {
            store,
            public_url: None,
            cache: Arc::new(Cache::new(CachePolicy::default())),
        }
    }

    /// The same tenant rules with a cache of `policy` for the authenticator's reads of
    /// the switches ([`CachePolicy::DISABLED`]: one store read per request). Call it
    /// before cloning (and before giving a clone to [`super::ApiKeys`]): the new cache is
    /// shared only by clones of the result.
    #[must_use]
    pub fn with_cache(mut self, policy: CachePolicy) -> Self {
        self.cache = Arc::new(Cache::new(policy));
        self
    }

    /// The public URL of the SCIM API, as the IdP must call it, e.g.
    /// `https://api.example.com/scim/v2` (the server's base URL, see
    /// [`crate::ScimServerBuilder::base_url`]). A `{tenant}` placeholder is replaced by the
    /// percent-encoded tenant id, for hosts that give each account its own host name.
    pub fn with_public_url(mut self, url: impl AsRef<str>) -> Self {
        self.public_url = Some(Arc::from(url.as_ref().trim_end_matches('/')));
        self
    }

    /// The SCIM API URL that `tenant`'s admin pastes into their IdP, together with an
    /// API key; `None` when no public URL is configured. Every tenant calls the same API
    /// (the key tells tenants apart) unless the URL has a `{tenant}` placeholder.
    pub fn api_url(&self, tenant: &str) -> Option<String> {
        let url = self.public_url.as_deref()?;
        Some(url.replace("{tenant}", &percent_encode(tenant)))
    }

    /// The tenant's settings; a tenant never stored has both switches off.
    pub async fn get(&self, tenant: &str) -> Result<Tenant, AdminError> {
        validate_tenant_id(tenant)?;
        Ok(self
            .store
            .get(tenant)
            .await?
            .unwrap_or_else(|| Tenant::new(tenant)))
    }

    /// Every stored tenant, ordered by id.
    pub async fn list(&self) -> Result<Vec<Tenant>, AdminError> {
        Ok(self.store.list().await?)
    }

    /// Sets the vendor's entitlement. Taking it away stops service at the next request
    /// and keeps the admin's switch as it was, so that it applies again once the account
    /// is entitled again.
    pub async fn set_scim_entitled(
        &self,
        tenant: &str,
        entitled: bool,
    ) -> Result<Tenant, AdminError> {
        validate_tenant_id(tenant)?;
        let write = self.store.set_scim_entitled(tenant, entitled);
        let t = self.invalidating(tenant, write).await?;
        tracing::info!(tenant, entitled, "SCIM entitlement changed");
        Ok(t)
    }

    /// Sets the account admin's switch. Turning it on requires the entitlement
    /// ([`AdminError::NotEntitled`]); turning it off is always allowed. Takes effect on
    /// the next request.
    pub async fn set_scim_enabled(
        &self,
        tenant: &str,
        enabled: bool,
    ) -> Result<Tenant, AdminError> {
        if enabled {
            self.require_entitled(tenant).await?;
        } else {
            validate_tenant_id(tenant)?;
        }
        let write = self.store.set_scim_enabled(tenant, enabled);
        let t = self.invalidating(tenant, write).await?;
        tracing::info!(tenant, enabled, "SCIM switch changed");
        Ok(t)
    }

    /// Fails with [`AdminError::NotEntitled`] unless the vendor made SCIM available.
    pub(crate) async fn require_entitled(&self, tenant: &str) -> Result<(), AdminError> {
        if self.get(tenant).await?.scim_entitled {
            Ok(())
        } else {
            Err(AdminError::NotEntitled(tenant.to_owned()))
        }
    }

    /// Whether SCIM is active for `tenant`, for the authenticator: from the cache, or
    /// read from the store (a tenant never stored is not active).
    pub(crate) async fn scim_active(&self, tenant: &Arc<str>) -> Result<bool, StoreError> {
        if let Some(active) = self.cache.get(tenant) {
            return Ok(active);
        }
        let ticket = self.cache.ticket();
        let active = self
            .store
            .get(tenant)
            .await?
            .is_some_and(|t| t.scim_active());
        self.cache.insert(ticket, tenant.clone(), active);
        Ok(active)
    }

    /// Runs `write` of `tenant`'s switches, then forgets the cached state of `tenant`
    /// (whether or not the write succeeded: it may have been committed anyway), and
    /// every read in flight.
    async fn invalidating(
        &self,
        tenant: &str,
        write: impl Future<Output = Result<Tenant, StoreError>>,
    ) -> Result<Tenant, StoreError> {
        let written = write.await;
        self.cache.invalidate(&Arc::<str>::from(tenant));
        written
    }
}

/// Tenant ids are opaque, but not empty, not huge and free of control characters (they
/// end up in logs and URLs).
pub(crate) fn validate_tenant_id(tenant: &str) -> Result<(), AdminError> {
    if tenant.is_empty() || tenant.len() > 255 || tenant.chars().any(char::is_control) {
        return Err(AdminError::InvalidTenant(
            "a tenant id is 1 to 255 bytes without control characters".into(),
        ));
    }
    Ok(())
}

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;

    #[test]
    fn switches_are_independent_and_both_needed() {
        block_on(async {
            let tenants = Tenants::new(MemoryTenantStore::new());
            assert_eq!(tenants.get("acme").await.unwrap(), Tenant::new("acme"));
            assert!(matches!(
                tenants.set_scim_enabled("acme", true).await,
                Err(AdminError::NotEntitled(t)) if t == "acme"
            ));
            let t = tenants.set_scim_entitled("acme", true).await.unwrap();
            assert!(t.scim_entitled && !t.scim_active());
            let t = tenants.set_scim_enabled("acme", true).await.unwrap();
            assert!(t.scim_active());
            let t = tenants.set_scim_entitled("acme", false).await.unwrap();
            assert!(!t.scim_active() && t.scim_enabled, "admin's choice is kept");
            let t = tenants.set_scim_entitled("acme", true).await.unwrap();
            assert!(t.scim_active());
            tenants.set_scim_enabled("globex", false).await.unwrap();
            let ids: Vec<_> = tenants
                .list()
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect();
            assert_eq!(ids, ["acme", "globex"]);
        });
    }

    #[test]
    fn tenant_ids_are_validated() {
        block_on(async {
            let tenants = Tenants::new(MemoryTenantStore::new());
            for bad in ["", "a\nb", &"x".repeat(256)] {
                assert!(matches!(
                    tenants.set_scim_entitled(bad, true).await,
                    Err(AdminError::InvalidTenant(_))
                ));
            }
        });
    }

    #[test]
    fn api_url_comes_from_the_public_url() {
        let tenants = Tenants::new(MemoryTenantStore::new());
        assert_eq!(tenants.api_url("acme"), None);
        let tenants = tenants.with_public_url("https://api.example.com/scim/v2/");
        assert_eq!(
            tenants.api_url("acme").as_deref(),
            Some("https://api.example.com/scim/v2")
        );
        let tenants = tenants.with_public_url("https://{tenant}.example.com/scim/v2");
        assert_eq!(
            tenants.api_url("acme corp/1").as_deref(),
            Some("https://acme%20corp%2F1.example.com/scim/v2")
        );
    }
}
