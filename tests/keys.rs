//! API keys and tenant switches through `ScimServer::handle`: creation, rotation,
//! revocation, expiry, the 401s that reveal nothing, the 403 of a switched-off tenant, and
//! secrets that never reach a log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{Captured, Reply, send_with};
use scimkit::keys::{
    AdminError, ApiKeys, MemoryApiKeyStore, MemoryTenantStore, SCIM_DISABLED, Tenants,
    is_well_formed,
};
use scimkit::{MemoryUserStore, ScimServer};

struct Fixture {
    server: ScimServer,
    keys: ApiKeys,
    tenants: Tenants,
}

/// A server authenticating with `ApiKeys`; tenant `acme` is entitled and switched on.
async fn fixture() -> Fixture {
    let tenants = Tenants::new(MemoryTenantStore::new());
    tenants.set_scim_entitled("acme", true).await.unwrap();
    tenants.set_scim_enabled("acme", true).await.unwrap();
    let keys = ApiKeys::new(MemoryApiKeyStore::new(), tenants.clone());
    let server = ScimServer::builder()
        .store(MemoryUserStore::new())
        .authenticator(keys.clone())
        .build()
        .unwrap();
    Fixture {
        server,
        keys,
        tenants,
    }
}

async fn get_users(s: &ScimServer, authorization: Option<&str>) -> Reply {
    let mut headers = vec![("x-request-id", "fixed-id")];
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    send_with(s, "GET", "/scim/v2/Users", None, &headers).await
}

async fn get_with_key(s: &ScimServer, secret: &str) -> Reply {
    get_users(s, Some(&format!("Bearer {secret}"))).await
}

fn assert_401(r: &Reply) {
    r.assert_error(401, None);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="SCIM", error="invalid_token""#)
    );
}

async fn create_key(f: &Fixture, name: &str) -> String {
    let new = f.keys.create("acme", name, None).await.unwrap();
    new.secret.expose().to_owned()
}

#[tokio::test]
async fn created_key_authenticates_and_is_well_formed() {
    let f = fixture().await;
    let secret = create_key(&f, "Okta").await;
    assert!(secret.starts_with("scimkit_"));
    assert!(is_well_formed(&secret));
    assert_eq!(get_with_key(&f.server, &secret).await.status, 200);
}

#[tokio::test]
async fn revoked_key_gets_401() {
    let f = fixture().await;
    let new = f.keys.create("acme", "Okta", None).await.unwrap();
    let secret = new.secret.expose();
    assert_eq!(get_with_key(&f.server, secret).await.status, 200);
    f.keys.revoke("acme", &new.info.id).await.unwrap();
    assert_401(&get_with_key(&f.server, secret).await);
    let listed = f.keys.list("acme").await.unwrap();
    assert!(listed[0].revoked_at.is_some(), "revoked keys stay listed");
}

#[tokio::test]
async fn expired_key_gets_401() {
    let f = fixture().await;
    let expires = Utc::now() + TimeDelta::milliseconds(300);
    let new = f.keys.create("acme", "short", Some(expires)).await.unwrap();
    let secret = new.secret.expose();
    assert_eq!(get_with_key(&f.server, secret).await.status, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_401(&get_with_key(&f.server, secret).await);
    assert_eq!(
        f.keys.list("acme").await.unwrap()[0].expires_at,
        Some(expires)
    );
}

#[tokio::test]
async fn rotation_two_live_keys_both_work() {
    let f = fixture().await;
    let old = f.keys.create("acme", "Okta (2024)", None).await.unwrap();
    let new = f.keys.create("acme", "Okta (2025)", None).await.unwrap();
    for secret in [old.secret.expose(), new.secret.expose()] {
        assert_eq!(get_with_key(&f.server, secret).await.status, 200);
    }
    f.keys.revoke("acme", &old.info.id).await.unwrap();
    assert_401(&get_with_key(&f.server, old.secret.expose()).await);
    assert_eq!(
        get_with_key(&f.server, new.secret.expose()).await.status,
        200
    );
}

#[tokio::test]
async fn disabled_tenant_gets_403() {
    let f = fixture().await;
    let secret = create_key(&f, "Okta").await;
    f.tenants.set_scim_enabled("acme", false).await.unwrap();
    let r = get_with_key(&f.server, &secret).await;
    r.assert_error(403, None);
    assert_eq!(r.json["detail"], SCIM_DISABLED);
    assert_eq!(
        r.json["detail"],
        "SCIM provisioning is disabled for this account"
    );
    assert!(r.header("www-authenticate").is_none());
}

#[tokio::test]
async fn unentitled_tenant_gets_403_even_when_switched_on() {
    let f = fixture().await;
    let secret = create_key(&f, "Okta").await;
    f.tenants.set_scim_entitled("acme", false).await.unwrap();
    let r = get_with_key(&f.server, &secret).await;
    r.assert_error(403, None);
    assert_eq!(r.json["detail"], SCIM_DISABLED);
}

#[tokio::test]
async fn unentitled_tenant_cannot_create_keys() {
    let f = fixture().await;
    let e = f.keys.create("globex", "Okta", None).await.unwrap_err();
    assert!(
        matches!(e, AdminError::NotEntitled(ref t) if t == "globex"),
        "{e}"
    );
    let e = f
        .tenants
        .set_scim_enabled("globex", true)
        .await
        .unwrap_err();
    assert!(matches!(e, AdminError::NotEntitled(_)), "{e}");
    assert!(f.keys.list("globex").await.unwrap().is_empty());

    f.tenants.set_scim_entitled("globex", true).await.unwrap();
    let new = f.keys.create("globex", "Okta", None).await.unwrap();
    // Entitled but not yet switched on: the key exists, requests are refused.
    let r = get_with_key(&f.server, new.secret.expose()).await;
    r.assert_error(403, None);
}

#[tokio::test]
async fn switch_takes_effect_on_next_request() {
    let f = fixture().await;
    let secret = create_key(&f, "Okta").await;
    assert_eq!(get_with_key(&f.server, &secret).await.status, 200);
    f.tenants.set_scim_enabled("acme", false).await.unwrap();
    assert_eq!(get_with_key(&f.server, &secret).await.status, 403);
    f.tenants.set_scim_enabled("acme", true).await.unwrap();
    assert_eq!(get_with_key(&f.server, &secret).await.status, 200);
    f.tenants.set_scim_entitled("acme", false).await.unwrap();
    assert_eq!(get_with_key(&f.server, &secret).await.status, 403);
    f.tenants.set_scim_entitled("acme", true).await.unwrap();
    assert_eq!(get_with_key(&f.server, &secret).await.status, 200);
}

#[tokio::test]
async fn all_401s_are_identical() {
    let f = fixture().await;
    let revoked = f.keys.create("acme", "revoked", None).await.unwrap();
    f.keys.revoke("acme", &revoked.info.id).await.unwrap();
    let expiring = f
        .keys
        .create(
            "acme",
            "expiring",
            Some(Utc::now() + TimeDelta::milliseconds(100)),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let good = create_key(&f, "good").await;
    let unknown = scimkit::keys::generate_secret().unwrap();

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("wrong scheme", Some("Basic dXNlcjpwYXNz".into())),
        ("no token", Some("Bearer".into())),
        ("no scheme", Some(good.clone())),
        ("malformed", Some("Bearer not-a-key".into())),
        ("typo", Some(format!("Bearer {}", typo(&good)))),
        ("unknown", Some(format!("Bearer {}", unknown.expose()))),
        (
            "revoked",
            Some(format!("Bearer {}", revoked.secret.expose())),
        ),
        (
            "expired",
            Some(format!("Bearer {}", expiring.secret.expose())),
        ),
    ];
    let mut first: Option<(http::HeaderMap, serde_json::Value)> = None;
    for (case, authorization) in &cases {
        let r = get_users(&f.server, authorization.as_deref()).await;
        assert_401(&r);
        match &first {
            None => first = Some((r.headers.clone(), r.json.clone())),
            Some((headers, json)) => {
                assert_eq!(&r.headers, headers, "{case}: headers differ");
                assert_eq!(&r.json, json, "{case}: body differs");
            }
        }
    }
    assert_eq!(get_with_key(&f.server, &good).await.status, 200);
}

/// `secret` with one character of its random part changed.
fn typo(secret: &str) -> String {
    let mut bytes = secret.as_bytes().to_vec();
    let i = "scimkit_".len() + 10;
    bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn checksum_rejects_a_one_character_typo() {
    let f = fixture().await;
    let good = create_key(&f, "Okta").await;
    let typo = typo(&good);
    assert!(is_well_formed(&good));
    assert!(!is_well_formed(&typo), "recognised without a store lookup");
    assert_401(&get_with_key(&f.server, &typo).await);
}

#[tokio::test]
async fn list_keys_never_shows_secret_or_hash() {
    let f = fixture().await;
    let new = f
        .keys
        .create("acme", "Okta", Some(Utc::now() + TimeDelta::days(90)))
        .await
        .unwrap();
    let secret = new.secret.expose().to_owned();
    get_with_key(&f.server, &secret).await;
    let hash = scimkit::keys::KeyHash::of(&secret).to_hex();
    let listed = f.keys.list("acme").await.unwrap();
    assert_eq!(listed.len(), 1);
    let key = &listed[0];
    assert_eq!(
        (key.id.as_str(), key.name.as_str()),
        (&*new.info.id, "Okta")
    );
    assert!(key.last_used_at.is_some() && key.expires_at.is_some());
    assert!(key.revoked_at.is_none());
    let json = serde_json::to_string(&listed).unwrap();
    let debug = format!("{listed:?} {new:?} {:?}", f.keys);
    for shown in [&json, &debug] {
        assert!(!shown.contains(&secret), "{shown}");
        assert!(!shown.contains(&secret["scimkit_".len()..]), "{shown}");
        assert!(!shown.contains(&hash), "{shown}");
    }
    assert_eq!(f.keys.list_all().await.unwrap(), listed);
}

#[tokio::test]
async fn secret_is_never_logged() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::TRACE);

    let f = fixture().await;
    let good = create_key(&f, "Okta").await;
    let revoked = f.keys.create("acme", "old", None).await.unwrap();
    f.keys.revoke("acme", &revoked.info.id).await.unwrap();
    let unknown = scimkit::keys::generate_secret().unwrap();
    let typo = typo(&good);
    let secrets = [
        good.as_str(),
        revoked.secret.expose(),
        unknown.expose(),
        typo.as_str(),
        "not-a-key-but-still-secret",
    ];
    for secret in secrets {
        get_with_key(&f.server, secret).await;
        get_users(&f.server, Some(&format!("Basic {secret}"))).await;
        get_users(&f.server, Some(secret)).await;
    }
    f.tenants.set_scim_enabled("acme", false).await.unwrap();
    assert_eq!(get_with_key(&f.server, &good).await.status, 403);
    f.keys.create("globex", "x", None).await.unwrap_err();

    let log = captured.text();
    assert!(log.contains("API key created"), "the capture works: {log}");
    assert!(log.contains("scim request"), "the capture works: {log}");
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} leaked into:\n{log}");
        let hash = scimkit::keys::KeyHash::of(secret).to_hex();
        assert!(!log.contains(&hash), "a hash leaked into:\n{log}");
    }
}

#[tokio::test]
async fn pre_shared_key_can_be_imported_and_revoked() {
    let f = fixture().await;
    let info = f
        .keys
        .import("acme", "pre-shared", "http-test-key", None)
        .await
        .unwrap();
    assert_eq!(get_with_key(&f.server, "http-test-key").await.status, 200);
    f.keys.revoke("acme", &info.id).await.unwrap();
    assert_401(&get_with_key(&f.server, "http-test-key").await);
}

// ---------------------------------------------------------------------------------------
// The authentication cache
// ---------------------------------------------------------------------------------------

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use scimkit::keys::{
    ApiKeyRecord, ApiKeyStore, CachePolicy, KeyHash, Tenant, TenantStore, generate_secret,
};
use scimkit::{AuthError, Authenticator, StoreError};

/// Store calls made through the counting wrappers.
#[derive(Default)]
struct Calls {
    find_by_hash: AtomicUsize,
    record_use: AtomicUsize,
    tenant_get: AtomicUsize,
}

impl Calls {
    fn snapshot(&self) -> (usize, usize, usize) {
        (
            self.find_by_hash.load(Ordering::SeqCst),
            self.record_use.load(Ordering::SeqCst),
            self.tenant_get.load(Ordering::SeqCst),
        )
    }
}

/// An [`ApiKeyStore`] that counts the calls of the hot path.
struct CountingKeys {
    inner: Arc<MemoryApiKeyStore>,
    calls: Arc<Calls>,
}

#[async_trait]
impl ApiKeyStore for CountingKeys {
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.inner.insert(key).await
    }
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.calls.find_by_hash.fetch_add(1, Ordering::SeqCst);
        self.inner.find_by_hash(hash).await
    }
    async fn list(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.list(tenant).await
    }
    async fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: chrono::DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.inner.revoke(tenant, id, at).await
    }
    async fn record_use(&self, id: &str, at: chrono::DateTime<Utc>) -> Result<(), StoreError> {
        self.calls.record_use.fetch_add(1, Ordering::SeqCst);
        self.inner.record_use(id, at).await
    }
}

/// A [`TenantStore`] that counts reads.
struct CountingTenants {
    inner: Arc<MemoryTenantStore>,
    calls: Arc<Calls>,
}

#[async_trait]
impl TenantStore for CountingTenants {
    async fn get(&self, tenant: &str) -> Result<Option<Tenant>, StoreError> {
        self.calls.tenant_get.fetch_add(1, Ordering::SeqCst);
        self.inner.get(tenant).await
    }
    async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        self.inner.list().await
    }
    async fn set_scim_entitled(&self, tenant: &str, on: bool) -> Result<Tenant, StoreError> {
        self.inner.set_scim_entitled(tenant, on).await
    }
    async fn set_scim_enabled(&self, tenant: &str, on: bool) -> Result<Tenant, StoreError> {
        self.inner.set_scim_enabled(tenant, on).await
    }
}

/// One "database": the key and tenant stores every process shares.
#[derive(Clone, Default)]
struct Database {
    keys: Arc<MemoryApiKeyStore>,
    tenants: Arc<MemoryTenantStore>,
}

/// One "process" over `db`: its own `ApiKeys` and `Tenants`, with their own caches of
/// `ttl`, counting its store calls.
struct Process {
    keys: ApiKeys,
    tenants: Tenants,
    calls: Arc<Calls>,
}

fn process(db: &Database, ttl: Duration) -> Process {
    let calls = Arc::new(Calls::default());
    let policy = CachePolicy::new(ttl, 100);
    let tenants = Tenants::new(CountingTenants {
        inner: db.tenants.clone(),
        calls: calls.clone(),
    })
    .with_cache(policy);
    let keys = ApiKeys::new(
        CountingKeys {
            inner: db.keys.clone(),
            calls: calls.clone(),
        },
        tenants.clone(),
    )
    .with_cache(policy);
    Process {
        keys,
        tenants,
        calls,
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// A database with tenant `acme` switched on, and one process over it.
async fn acme(ttl: Duration) -> (Database, Process) {
    let db = Database::default();
    let p = process(&db, ttl);
    p.tenants.set_scim_entitled("acme", true).await.unwrap();
    p.tenants.set_scim_enabled("acme", true).await.unwrap();
    (db, p)
}

#[tokio::test]
async fn a_cached_key_is_served_without_any_store_call() {
    let (_, p) = acme(HOUR).await;
    let new = p.keys.create("acme", "Okta", None).await.unwrap();
    let secret = new.secret.expose();
    // Creating the key read the tenant (its entitlement), as administration always does.
    let (f0, u0, t0) = p.calls.snapshot();
    let principal = p.keys.authenticate(secret).await.unwrap();
    assert_eq!(principal.key_id.as_ref(), new.info.id);
    let first = (f0 + 1, u0 + 1, t0 + 1);
    assert_eq!(
        p.calls.snapshot(),
        first,
        "the first request reads both stores"
    );
    for _ in 0..100 {
        assert_eq!(p.keys.authenticate(secret).await.unwrap(), principal);
    }
    assert_eq!(p.calls.snapshot(), first, "cached hits make no store call");

    // Without a cache, every request reads both stores (and writes last use once).
    let db = Database::default();
    let uncached = process(&db, Duration::ZERO);
    uncached
        .tenants
        .set_scim_entitled("acme", true)
        .await
        .unwrap();
    uncached
        .tenants
        .set_scim_enabled("acme", true)
        .await
        .unwrap();
    let new = uncached.keys.create("acme", "Okta", None).await.unwrap();
    let (f0, u0, t0) = uncached.calls.snapshot();
    for _ in 0..3 {
        uncached
            .keys
            .authenticate(new.secret.expose())
            .await
            .unwrap();
    }
    assert_eq!(uncached.calls.snapshot(), (f0 + 3, u0 + 1, t0 + 3));
}

#[tokio::test]
async fn unknown_tokens_are_never_cached_and_cannot_evict_live_keys() {
    let (_, p) = acme(HOUR).await;
    let p = Process {
        keys: p.keys.with_cache(CachePolicy::new(HOUR, 4)),
        ..p
    };
    let new = p.keys.create("acme", "Okta", None).await.unwrap();
    p.keys.authenticate(new.secret.expose()).await.unwrap();
    let unknown = generate_secret().unwrap();
    for _ in 0..2 {
        assert_eq!(
            p.keys.authenticate(unknown.expose()).await,
            Err(AuthError::InvalidCredentials)
        );
    }
    assert_eq!(p.calls.snapshot().0, 3, "every unknown token is looked up");
    for i in 0..1000 {
        let _ = p.keys.authenticate(&format!("made-up-token-{i}")).await;
    }
    let before = p.calls.snapshot();
    p.keys.authenticate(new.secret.expose()).await.unwrap();
    assert_eq!(p.calls.snapshot(), before, "the live key is still cached");
}

#[tokio::test]
async fn revocation_and_switches_are_seen_at_once_by_the_process_that_made_them() {
    // An hour of TTL: only invalidation can make these changes visible.
    let (_, p) = acme(HOUR).await;
    let new = p.keys.create("acme", "Okta", None).await.unwrap();
    let secret = new.secret.expose();
    let forbidden = Err(AuthError::Forbidden(SCIM_DISABLED.into()));
    assert!(p.keys.authenticate(secret).await.is_ok());
    p.tenants.set_scim_enabled("acme", false).await.unwrap();
    assert_eq!(p.keys.authenticate(secret).await, forbidden);
    p.tenants.set_scim_enabled("acme", true).await.unwrap();
    assert!(p.keys.authenticate(secret).await.is_ok());
    // Through a clone, as an admin console holds one.
    p.keys
        .tenants()
        .clone()
        .set_scim_entitled("acme", false)
        .await
        .unwrap();
    assert_eq!(p.keys.authenticate(secret).await, forbidden);
    p.tenants.set_scim_entitled("acme", true).await.unwrap();
    assert!(p.keys.authenticate(secret).await.is_ok());
    p.keys.clone().revoke("acme", &new.info.id).await.unwrap();
    assert_eq!(
        p.keys.authenticate(secret).await,
        Err(AuthError::InvalidCredentials)
    );
}

#[tokio::test]
async fn an_expired_key_is_refused_from_the_cache_by_the_clock() {
    let (_, p) = acme(HOUR).await;
    let expires = Utc::now() + TimeDelta::milliseconds(300);
    let new = p.keys.create("acme", "short", Some(expires)).await.unwrap();
    assert!(p.keys.authenticate(new.secret.expose()).await.is_ok());
    while Utc::now() <= expires {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        p.keys.authenticate(new.secret.expose()).await,
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        p.calls.snapshot().0,
        2,
        "the refusal went through the store"
    );
}

/// Polls `check` until it holds, for at most `within`.
async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn other_processes_see_revocation_and_switches_within_the_ttl() {
    let db = Database::default();
    let admin = process(&db, DEFAULT_TTL);
    admin.tenants.set_scim_entitled("acme", true).await.unwrap();
    admin.tenants.set_scim_enabled("acme", true).await.unwrap();
    // Two more processes on the same stores: one with the default bound, one whose
    // cache outlives the test (to show that it is the TTL that bounds staleness).
    let replica = process(&db, DEFAULT_TTL);
    let stale = process(&db, HOUR);
    let new = admin.keys.create("acme", "Okta", None).await.unwrap();
    let secret = new.secret.expose();
    for p in [&replica, &stale] {
        assert!(p.keys.authenticate(secret).await.is_ok());
    }
    let forbidden = Err(AuthError::Forbidden(SCIM_DISABLED.into()));

    admin.tenants.set_scim_enabled("acme", false).await.unwrap();
    assert_eq!(
        admin.keys.authenticate(secret).await,
        forbidden,
        "at once here"
    );
    assert!(
        eventually(BOUND, async || replica.keys.authenticate(secret).await
            == forbidden)
        .await,
        "the replica sees the switch within the bound"
    );
    assert!(
        stale.keys.authenticate(secret).await.is_ok(),
        "served from its cache"
    );
    admin.tenants.set_scim_enabled("acme", true).await.unwrap();
    assert!(
        eventually(BOUND, async || replica
            .keys
            .authenticate(secret)
            .await
            .is_ok())
        .await
    );

    admin.keys.revoke("acme", &new.info.id).await.unwrap();
    assert_eq!(
        admin.keys.authenticate(secret).await,
        Err(AuthError::InvalidCredentials)
    );
    assert!(
        eventually(BOUND, async || {
            replica.keys.authenticate(secret).await == Err(AuthError::InvalidCredentials)
        })
        .await,
        "the replica refuses the revoked key within the bound"
    );
    assert!(
        stale.keys.authenticate(secret).await.is_ok(),
        "served from its cache"
    );
}

/// The default TTL, and how long the polls above wait at most for it (generously: a
/// loaded test machine may run late).
const DEFAULT_TTL: Duration = scimkit::keys::DEFAULT_CACHE_TTL;
const BOUND: Duration = Duration::from_secs(10);
