//! API keys and tenant switches through `ScimServer::handle`: creation, rotation,
//! revocation, expiry, the 401s that reveal nothing, the 403 of a switched-off tenant, and
//! secrets that never reach a log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{Reply, send_with};
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

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secret_is_never_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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
