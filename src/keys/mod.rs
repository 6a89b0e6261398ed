//! Named API keys per tenant, and the tenant switches that gate SCIM: [`ApiKeys`] is an
//! [`Authenticator`] a host plugs into [`crate::ScimServer`] without writing security code.
//!
//! ```
//! use scimkit::keys::{ApiKeys, MemoryApiKeyStore, MemoryTenantStore, Tenants};
//! use scimkit::{MemoryUserStore, ScimServer};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let tenants = Tenants::new(MemoryTenantStore::new())
//!     .with_public_url("https://api.example.com/scim/v2");
//! let keys = ApiKeys::new(MemoryApiKeyStore::new(), tenants.clone());
//!
//! tenants.set_scim_entitled("acme", true).await?; // the vendor's support staff
//! tenants.set_scim_enabled("acme", true).await?; // the account admin
//! let new_key = keys.create("acme", "Okta production", None).await?;
//! // Show both to the admin, the secret exactly once:
//! let url = tenants.api_url("acme");
//! let secret = new_key.secret.expose();
//!
//! let server = ScimServer::builder()
//!     .store(MemoryUserStore::new())
//!     .authenticator(keys.clone())
//!     .build()?;
//! # let _ = (url, secret, server);
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # Tenants and switches
//!
//! Every key belongs to one tenant (customer account); the tenant of every request, and
//! so the scope of every store call, is the one of its key. A tenant has two switches
//! ([`Tenant`]): the vendor's entitlement (until it is on, no key can be created and the
//! admin is not offered the SCIM switch) and the account admin's SCIM switch. Requests
//! are served only while both are on; otherwise they get 403 "SCIM provisioning is
//! disabled for this account". A change takes effect without a restart: on the next
//! request in the process that made it, within [`CachePolicy::ttl`] (1 s) in every other
//! (see [the authentication cache](#the-authentication-cache)).
//!
//! # Key format
//!
//! A secret looks like `scimkit_` + 43 base62 characters + 6 base62 characters, 57 in all:
//!
//! - the **prefix** [`SECRET_PREFIX`] lets secret scanners and support staff recognise a
//!   leaked scimkit key;
//! - the **random part** is 43 characters drawn uniformly (by rejection sampling) from
//!   the operating system's random number generator: 43 × log2(62) ≈ 256 bits;
//! - the **checksum** is the CRC32 of the random part, so [`is_well_formed`] tells a key
//!   from a typo or a truncated paste without any store (CRC32 catches every
//!   one-character error).
//!
//! Base62 keeps the secret one "word": a double click selects all of it, and no
//! character needs escaping in a header, a shell or a YAML file.
//!
//! # Hashing
//!
//! The secret is shown once ([`NewApiKey`]) and never stored: a store keeps its SHA-256
//! digest ([`KeyHash`]) and finds a key by it, with an index. A fast hash is the right
//! tool here, unlike for passwords: slow password hashes (Argon2, bcrypt) exist to make
//! guessing a *low-entropy* secret from its hash expensive. A 256-bit random secret cannot
//! be guessed, from a stolen hash or otherwise (2^255 SHA-256 evaluations on average),
//! and there is no dictionary to try, so a slow KDF would add milliseconds of CPU to every
//! request and no security. A salt is unnecessary for the same reason (no two secrets are
//! alike, no precomputed table can cover 2^256 inputs) and would prevent the lookup by
//! hash. This holds only for generated secrets: a secret registered with
//! [`ApiKeys::import`] should be generated randomly too.
//!
//! # Constant time
//!
//! [`ApiKeys`] answers "no" the same way, in the same time, whatever is wrong: a missing
//! header, another scheme, a malformed, unknown, revoked or expired key all become the
//! same 401 (same body, same `WWW-Authenticate: Bearer realm="SCIM",
//! error="invalid_token"`). Every token, well-formed or not, is hashed and looked up (the
//! checksum is deliberately *not* used as a shortcut); the found digest (or a dummy one)
//! is compared with [`KeyHash::ct_eq`]; revocation and expiry are evaluated for every
//! token. What remains is the store's index lookup, whose timing depends on the digest,
//! which an attacker cannot choose. Secrets never reach a log, an error or a `Debug`
//! output ([`crate::Secret`] and [`KeyHash`] redact themselves).
//!
//! The [cache](#the-authentication-cache) keeps this: it holds only live keys, so it
//! answers only requests that succeed; **every refusal** (unknown, revoked, expired,
//! malformed) still goes through the store lookup and the same comparisons, so all 401s
//! take the same path. The cache is a hash map keyed by the digest with the standard
//! library's randomly keyed SipHash (chosen tokens cannot be made to collide), and a hit
//! is confirmed with [`KeyHash::ct_eq`]. A cached success is faster than a refusal, which
//! tells the sender nothing the status code does not.
//!
//! # Rotation, revocation, expiry
//!
//! A tenant may have any number of live keys: to rotate, create a new key, configure it
//! in the IdP, check that [`ApiKeyInfo::last_used_at`] of the old key stops moving, and
//! revoke it. [`ApiKeys::revoke`] takes effect on the next request of the process that
//! revoked it, and within [`CachePolicy::ttl`] in every other. A key may carry an expiry
//! time, after which it is refused like an unknown key (evaluated against the clock on
//! every request, cached or not). Revoked keys stay listed.
//!
//! # Last use
//!
//! `last_used_at` is written at most once per [`LAST_USED_GRANULARITY`] per key and
//! process, so a busy IdP costs one store write a minute, not one per request: the cached
//! key remembers when this process last wrote it (or read it from the store), and the one
//! request that finds it a minute old claims the write with an atomic compare-and-swap
//! and pays for it (one `UPDATE`); the others compare two integers. A failed write
//! is logged and does not fail the request. A request refused with 403 because SCIM is
//! off for the tenant counts as a use: it shows the admin that the IdP is still calling.
//!
//! # The authentication cache
//!
//! Authenticating with the stores alone costs two reads per request (the key by its
//! digest, then the tenant's switches). [`ApiKeys`] and [`Tenants`] each keep an
//! in-process cache instead, shared by their clones:
//!
//! - **What**: keys that authenticated a request (by the SHA-256 [`KeyHash`] of their
//!   secret, never the secret), and whether SCIM is on for the tenants of those keys.
//!   Unknown tokens are never cached (no negative caching), nor are revoked or expired
//!   keys, so the cache holds only what exists in the stores, and a flood of made-up
//!   tokens cannot fill it or evict the real keys: they all go to the store as before.
//! - **How long**: an entry is served for [`CachePolicy::ttl`] ([`DEFAULT_CACHE_TTL`],
//!   1 s) after the store read that produced it *started*, then read again. Expiry times
//!   are compared with the clock on every request, from the cache too.
//! - **How many**: at most [`CachePolicy::capacity`] entries each
//!   ([`DEFAULT_CACHE_CAPACITY`]); a full cache first drops expired entries and those
//!   unused since the previous sweep (CLOCK's second chance), an eighth of it at a time.
//! - **This process sees its own changes at once.** [`ApiKeys::revoke`],
//!   [`Tenants::set_scim_enabled`] and [`Tenants::set_scim_entitled`] drop the entry
//!   after the store write, and also discard every store read that was in flight at that
//!   moment (an epoch counter), so no stale value is inserted after the change. The next
//!   request is refused.
//! - **Every other process sees them within the TTL.** A change committed at time *t*
//!   (by another replica on the same database, or by an admin CLI) is seen by every
//!   request that starts after *t* + TTL: a cached entry was read from the store at
//!   most TTL before it is used. The default bound is therefore **1 second**; set it with
//!   [`ApiKeys::with_cache`] and [`Tenants::with_cache`] ([`CachePolicy::DISABLED`]
//!   restores a store read per request). A time to live was chosen over a notification
//!   channel (such as PostgreSQL's `LISTEN`/`NOTIFY`) because it holds for every
//!   [`ApiKeyStore`]/[`TenantStore`], needs no connection of its own, and cannot miss a
//!   message; its cost is one store read per live key and tenant per second and process.

mod cache;
mod secret;
mod store;
mod tenant;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::auth::{AuthError, Authenticator};
use crate::context::Principal;
use crate::error::StoreError;
use crate::resource::Secret;
use cache::Cache;

pub use cache::{CachePolicy, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL};
pub use secret::{KeyHash, SECRET_LEN, SECRET_PREFIX, generate_secret, is_well_formed};
pub use store::{ApiKeyInfo, ApiKeyRecord, ApiKeyStore, MemoryApiKeyStore, NewApiKey};
pub use tenant::{MemoryTenantStore, Tenant, TenantStore, Tenants};

/// How often, at most, a key's `last_used_at` is written.
pub const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// The detail of the 403 sent while a tenant's SCIM switch or entitlement is off.
pub const SCIM_DISABLED: &str = "SCIM provisioning is disabled for this account";

/// The longest key name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;
/// The longest secret [`ApiKeys::import`] accepts, in bytes.
const MAX_IMPORTED_SECRET_LEN: usize = 1024;

/// Why an administrative operation on tenants or API keys failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The tenant id is empty, too long or contains control characters.
    #[error("invalid tenant id: {0}")]
    InvalidTenant(String),
    /// SCIM is not made available to this tenant by the vendor: no key can be created
    /// and the SCIM switch cannot be turned on.
    #[error("SCIM provisioning is not available for account {0:?}")]
    NotEntitled(String),
    /// The key name is empty, too long or contains control characters.
    #[error("invalid key name: {0}")]
    InvalidName(String),
    /// The expiry time is not in the future.
    #[error("the expiry time must be in the future")]
    InvalidExpiry,
    /// A secret given to [`ApiKeys::import`] cannot be used as a bearer token, or is
    /// already registered.
    #[error("invalid secret: {0}")]
    InvalidSecret(&'static str),
    /// No key with this id in this tenant.
    #[error("no such API key")]
    NotFound,
    /// The operating system's random number generator failed (the cause is logged).
    #[error("no randomness available to generate a key")]
    Randomness,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Named API keys over an [`ApiKeyStore`], checked against the tenant switches of
/// [`Tenants`]; also the [`Authenticator`] to give [`crate::ScimServer`].
///
/// Cheap to clone (`Arc`s inside): keep one for the admin side and give one to the server.
/// See the [module documentation](self) for the format, hashing and timing guarantees.
///
/// Keys that authenticated a request are cached for [`CachePolicy::ttl`] (1 s by default),
/// shared by every clone: see [the authentication cache](self#the-authentication-cache).
#[derive(Clone)]
pub struct ApiKeys {
    store: Arc<dyn ApiKeyStore>,
    tenants: Tenants,
    /// Live keys that authenticated a request, by the digest of their secret.
    cache: Arc<Cache<KeyHash, Arc<CachedKey>>>,
}

debug_fields!(ApiKeys { tenants, cache });

/// A live key as the cache keeps it, with the last use recorded by this process.
struct CachedKey {
    record: ApiKeyRecord,
    /// `last_used_at` in Unix milliseconds as this process last wrote or read it
    /// (`i64::MIN` for never): decides, without a store read, whether to write it again.
    last_used_ms: AtomicI64,
}

impl CachedKey {
    fn new(record: ApiKeyRecord) -> Self {
        let last_used_ms = record
            .last_used_at
            .map_or(i64::MIN, |t| t.timestamp_millis());
        Self {
            record,
            last_used_ms: AtomicI64::new(last_used_ms),
        }
    }
}

impl ApiKeys {
    /// API keys kept in `store`, for the tenants of `tenants`.
    pub fn new(store: impl ApiKeyStore + 'static, tenants: Tenants) -> Self {
        Self::shared(Arc::new(store), tenants)
    }

    /// API keys kept in a shared store.
    pub fn shared(store: Arc<dyn ApiKeyStore>, tenants: Tenants) -> Self {
        Self {
            store,
            tenants,
            cache: Arc::new(Cache::new(CachePolicy::default())),
        }
    }

    /// The same keys with a cache of `policy` (default [`CachePolicy::default`]: 1 s,
    /// [`DEFAULT_CACHE_CAPACITY`] keys; [`CachePolicy::DISABLED`] reads the store on
    /// every request). The tenant switches are cached by [`Tenants`], configured with
    /// [`Tenants::with_cache`].
    ///
    /// Call it before cloning: the new cache is shared by the clones made from the result
    /// only, and a revocation through a clone of the original is not seen by it at once.
    #[must_use]
    pub fn with_cache(mut self, policy: CachePolicy) -> Self {
        self.cache = Arc::new(Cache::new(policy));
        self
    }

    /// The tenant rules these keys are checked against.
    pub fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    /// Creates a key named `name` for `tenant`, optionally expiring at `expires_at`, and
    /// returns it with its secret, which is not stored anywhere: show it once.
    ///
    /// Fails with [`AdminError::NotEntitled`] unless the vendor made SCIM available to the
    /// tenant (the admin's switch may still be off: a key can be prepared in advance).
    pub async fn create(
        &self,
        tenant: &str,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<NewApiKey, AdminError> {
        let secret = generate_secret()?;
        let info = self.register(tenant, name, &secret, expires_at).await?;
        Ok(NewApiKey { info, secret })
    }

    /// Registers a secret issued elsewhere: a pre-shared key configured at deployment, or
    /// a key migrated from another system. Only its hash is stored, as for created keys.
    ///
    /// The [hashing rationale](self#hashing) assumes a high-entropy secret: import only
    /// randomly generated ones. The secret must be 1 to 1024 visible ASCII characters.
    pub async fn import(
        &self,
        tenant: &str,
        name: &str,
        secret: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiKeyInfo, AdminError> {
        if secret.is_empty()
            || secret.len() > MAX_IMPORTED_SECRET_LEN
            || !secret.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(AdminError::InvalidSecret(
                "a bearer token is 1 to 1024 visible ASCII characters",
            ));
        }
        self.register(tenant, name, &Secret::new(secret), expires_at)
            .await
    }

    async fn register(
        &self,
        tenant: &str,
        name: &str,
        secret: &Secret,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiKeyInfo, AdminError> {
        let name = validate_name(name)?;
        let now = Utc::now();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(AdminError::InvalidExpiry);
        }
        self.tenants.require_entitled(tenant).await?;
        let record = ApiKeyRecord {
            id: Arc::from(secret::generate_key_id()?),
            tenant: Arc::from(tenant),
            name: name.to_owned(),
            hash: KeyHash::of(secret.expose()),
            created_at: now,
            last_used_at: None,
            expires_at,
            revoked_at: None,
        };
        let info = ApiKeyInfo::from(&record);
        self.store.insert(record).await.map_err(|e| match e {
            StoreError::Uniqueness { .. } => {
                AdminError::InvalidSecret("this secret is already registered")
            }
            e => AdminError::Store(e),
        })?;
        tracing::info!(tenant, key_id = %info.id, name = %info.name, "API key created");
        Ok(info)
    }

    /// The keys of `tenant`, revoked and expired ones included, in creation order. Never
    /// the secrets or their hashes.
    pub async fn list(&self, tenant: &str) -> Result<Vec<ApiKeyInfo>, AdminError> {
        tenant::validate_tenant_id(tenant)?;
        let keys = self.store.list(Some(tenant)).await?;
        Ok(keys.iter().map(ApiKeyInfo::from).collect())
    }

    /// The keys of every tenant (for the vendor's staff), in creation order.
    pub async fn list_all(&self) -> Result<Vec<ApiKeyInfo>, AdminError> {
        let keys = self.store.list(None).await?;
        Ok(keys.iter().map(ApiKeyInfo::from).collect())
    }

    /// Revokes key `key_id` of `tenant`: the next request with it gets 401. Revoking a
    /// revoked key changes nothing. [`AdminError::NotFound`] if the tenant has no such key.
    pub async fn revoke(&self, tenant: &str, key_id: &str) -> Result<ApiKeyInfo, AdminError> {
        tenant::validate_tenant_id(tenant)?;
        let revoked = self
            .store
            .revoke(tenant, key_id, Utc::now())
            .await?
            .ok_or(AdminError::NotFound)?;
        // At once for this process: no cached copy, and no read in flight, survives.
        self.cache.invalidate(&revoked.hash);
        tracing::info!(tenant, key_id, "API key revoked");
        Ok(ApiKeyInfo::from(&revoked))
    }

    /// Checks `token`; see the [module documentation](self#constant-time).
    async fn verify(&self, token: &str) -> Result<Arc<CachedKey>, AuthError> {
        // No shortcut on the shape of the token: hash and look up every one.
        let hash = KeyHash::of(token);
        let now = Utc::now();
        if let Some(key) = self.cache.get(&hash) {
            // Only live keys are cached; one that has expired since goes the store's way,
            // like every refusal.
            if key.record.hash.ct_eq(&hash) & is_live(&key.record, now) {
                return Ok(key);
            }
        }
        let ticket = self.cache.ticket();
        let found = self.store.find_by_hash(&hash).await.map_err(|e| {
            tracing::error!(error = %e, "API key store failed");
            AuthError::Internal
        })?;
        const DUMMY: KeyHash = KeyHash::from_bytes([0; 32]);
        let (stored, revoked, expired) = match &found {
            Some(k) => (
                k.hash,
                k.revoked_at.is_some(),
                k.expires_at.is_some_and(|e| now >= e),
            ),
            None => (DUMMY, false, false),
        };
        let matches = stored.ct_eq(&hash);
        // Non-short-circuiting `&`: every condition is evaluated for every token.
        match found {
            Some(key) if matches & !revoked & !expired => {
                // Only keys that exist, and are live, enter the cache: unknown tokens never
                // do, so no one can fill it without holding valid keys.
                let key = Arc::new(CachedKey::new(key));
                self.cache.insert(ticket, hash, key.clone());
                Ok(key)
            }
            Some(_) => {
                self.cache.remove(&hash);
                Err(AuthError::InvalidCredentials)
            }
            None => Err(AuthError::InvalidCredentials),
        }
    }

    /// Writes `last_used_at` if this process has not written (or read) one within
    /// [`LAST_USED_GRANULARITY`]: one write per key and minute, claimed by one request.
    async fn record_use(&self, key: &CachedKey) {
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let last = key.last_used_ms.load(Ordering::Relaxed);
        if last != i64::MIN
            && now_ms.saturating_sub(last) < LAST_USED_GRANULARITY.num_milliseconds()
        {
            return;
        }
        if key
            .last_used_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return; // another request is writing it
        }
        let id = &key.record.id;
        if let Err(e) = self.store.record_use(id, now).await {
            tracing::warn!(key_id = %id, error = %e, "could not record the use of an API key");
        }
    }
}

/// Whether `key` authenticates requests at `now`: not revoked, not expired.
fn is_live(key: &ApiKeyRecord, now: DateTime<Utc>) -> bool {
    // Non-short-circuiting, like `verify`.
    key.revoked_at.is_none() & key.expires_at.is_none_or(|e| now < e)
}

#[async_trait]
impl Authenticator for ApiKeys {
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let key = match self.verify(token).await {
            Ok(key) => key,
            Err(e) => {
                tracing::debug!("bearer token refused");
                return Err(e);
            }
        };
        self.record_use(&key).await;
        let key = &key.record;
        let active = self.tenants.scim_active(&key.tenant).await.map_err(|e| {
            tracing::error!(error = %e, "tenant store failed");
            AuthError::Internal
        })?;
        if !active {
            tracing::debug!(tenant = %key.tenant, key_id = %key.id, "SCIM is off for the tenant");
            return Err(AuthError::Forbidden(SCIM_DISABLED.into()));
        }
        Ok(Principal {
            tenant: key.tenant.clone(),
            key_id: key.id.clone(),
        })
    }
}

/// Key names are free text, but not empty, not huge and without control characters.
fn validate_name(name: &str) -> Result<&str, AdminError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AdminError::InvalidName(format!(
            "a key name is 1 to {MAX_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;

    async fn keys_for(tenant: &str) -> ApiKeys {
        let tenants = Tenants::new(MemoryTenantStore::new());
        tenants.set_scim_entitled(tenant, true).await.unwrap();
        tenants.set_scim_enabled(tenant, true).await.unwrap();
        ApiKeys::new(MemoryApiKeyStore::new(), tenants)
    }

    #[test]
    fn a_created_key_authenticates_as_its_tenant_and_key_id() {
        block_on(async {
            let keys = keys_for("acme").await;
            let new = keys.create("acme", "  Okta  ", None).await.unwrap();
            assert_eq!(new.info.name, "Okta", "names are trimmed");
            assert!(is_well_formed(new.secret.expose()));
            let p = keys.authenticate(new.secret.expose()).await.unwrap();
            assert_eq!(p, Principal::new("acme", &new.info.id));
            assert!(!format!("{new:?}").contains(new.secret.expose()));
        });
    }

    #[test]
    fn last_use_is_recorded_coarsely() {
        block_on(async {
            let keys = keys_for("acme").await;
            let new = keys.create("acme", "Okta", None).await.unwrap();
            assert_eq!(keys.list("acme").await.unwrap()[0].last_used_at, None);
            keys.authenticate(new.secret.expose()).await.unwrap();
            let first = keys.list("acme").await.unwrap()[0].last_used_at;
            assert!(first.is_some());
            keys.authenticate(new.secret.expose()).await.unwrap();
            let second = keys.list("acme").await.unwrap()[0].last_used_at;
            assert_eq!(first, second, "no write within LAST_USED_GRANULARITY");
        });
    }

    #[test]
    fn a_cached_key_records_its_use_again_once_a_minute_has_passed() {
        block_on(async {
            let keys = keys_for("acme").await;
            let new = keys.create("acme", "Okta", None).await.unwrap();
            let hash = KeyHash::of(new.secret.expose());
            keys.authenticate(new.secret.expose()).await.unwrap();
            let first = keys.list("acme").await.unwrap()[0].last_used_at.unwrap();
            // As if this process had written it a minute and a second ago.
            let cached = keys.cache.get(&hash).expect("the key is cached");
            let earlier = first - LAST_USED_GRANULARITY - TimeDelta::seconds(1);
            cached
                .last_used_ms
                .store(earlier.timestamp_millis(), Ordering::Relaxed);
            keys.authenticate(new.secret.expose()).await.unwrap();
            let second = keys.list("acme").await.unwrap()[0].last_used_at.unwrap();
            assert!(second > first, "written again: {first} -> {second}");
            let claimed = cached.last_used_ms.load(Ordering::Relaxed);
            assert!(claimed >= first.timestamp_millis(), "the write was claimed");
        });
    }

    #[test]
    fn names_expiry_and_imported_secrets_are_validated() {
        block_on(async {
            let keys = keys_for("acme").await;
            for bad in ["", "   ", "a\u{7}b", &"x".repeat(201)] {
                assert!(matches!(
                    keys.create("acme", bad, None).await,
                    Err(AdminError::InvalidName(_))
                ));
            }
            let past = Utc::now() - TimeDelta::seconds(1);
            assert!(matches!(
                keys.create("acme", "k", Some(past)).await,
                Err(AdminError::InvalidExpiry)
            ));
            for bad in ["", "has space", "tab\there", &"x".repeat(1025)] {
                assert!(matches!(
                    keys.import("acme", "k", bad, None).await,
                    Err(AdminError::InvalidSecret(_))
                ));
            }
            keys.import("acme", "pre-shared", "http-test-key", None)
                .await
                .unwrap();
            assert!(matches!(
                keys.import("acme", "again", "http-test-key", None).await,
                Err(AdminError::InvalidSecret(_))
            ));
            let p = keys.authenticate("http-test-key").await.unwrap();
            assert_eq!(p.tenant.as_ref(), "acme");
        });
    }

    #[test]
    fn revoking_needs_the_right_tenant() {
        block_on(async {
            let keys = keys_for("acme").await;
            keys.tenants()
                .set_scim_entitled("globex", true)
                .await
                .unwrap();
            let new = keys.create("acme", "Okta", None).await.unwrap();
            assert!(matches!(
                keys.revoke("globex", &new.info.id).await,
                Err(AdminError::NotFound)
            ));
            assert!(keys.authenticate(new.secret.expose()).await.is_ok());
            let revoked = keys.revoke("acme", &new.info.id).await.unwrap();
            assert!(revoked.revoked_at.is_some());
            assert_eq!(
                keys.authenticate(new.secret.expose()).await,
                Err(AuthError::InvalidCredentials)
            );
            assert_eq!(keys.list_all().await.unwrap().len(), 1);
        });
    }
}
