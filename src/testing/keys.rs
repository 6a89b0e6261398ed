//! Conformance checks for [`ApiKeyStore`] and [`TenantStore`] implementations (feature
//! `testing`): the in-memory stores and the SQL stores pass the same ones.
//!
//! ```
//! # async fn demo() {
//! use scimkit::keys::{MemoryApiKeyStore, MemoryTenantStore};
//! scimkit::testing::keys::check_api_key_store(MemoryApiKeyStore::new).await;
//! scimkit::testing::keys::check_tenant_store(MemoryTenantStore::new).await;
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
//! ```
//!
//! Every check uses tenants and key ids of its own (with a random suffix) and ignores
//! what else a store holds, so the stores from `make` may share one database, even with
//! other tests running at the same time. Each check panics with a message naming the
//! broken rule of the trait's contract.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use chrono::{DateTime, TimeDelta, Utc};

use crate::keys::{ApiKeyRecord, ApiKeyStore, KeyHash, Tenant, TenantStore};
use crate::store::StoreError;

/// A name no other test run uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Runs `futures` concurrently on the current task and returns their outputs in order.
/// (The crate has no async runtime dependency; this is enough to overlap requests to a
/// database, which is where the races happen.)
pub(super) async fn join_all<'a, T>(futures: Vec<Pin<Box<dyn Future<Output = T> + 'a>>>) -> Vec<T> {
    let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, result) in futures.iter_mut().zip(out.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|r| r.expect("every future completed"))
        .collect()
}

/// A key of `tenant` with a random id and secret, created now.
fn new_key(tenant: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: Arc::from(unique("key")),
        tenant: Arc::from(tenant),
        name: "Okta \u{201c}production\u{201d} 'é' ; --".into(),
        hash: KeyHash::of(&unique("secret")),
        created_at: Utc::now(),
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    }
}

/// An instant with every nanosecond digit set, so that a store rounding it is caught.
fn precise(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 123_456_789).expect("valid instant")
}

/// Runs every [`ApiKeyStore`] check against stores made by `make`.
pub async fn check_api_key_store<S: ApiKeyStore>(make: impl Fn() -> S) {
    each_on_a_fresh_store!(make:
        keys_come_back_exactly_as_inserted,
        ids_and_hashes_are_unique,
        lists_are_scoped_by_tenant_in_creation_order,
        revocation_is_scoped_and_keeps_the_first_time,
        last_use_only_moves_forward,
        racing_inserts_of_one_secret_store_one_key,
    );
}

async fn keys_come_back_exactly_as_inserted(store: &dyn ApiKeyStore) {
    let tenant = unique("keys-roundtrip");
    let bare = new_key(&tenant);
    let mut full = new_key(&tenant);
    full.created_at = precise(1_700_000_000);
    full.last_used_at = Some(precise(1_700_000_100));
    full.expires_at = Some(precise(253_402_300_799)); // 9999-12-31T23:59:59.123456789Z
    full.revoked_at = Some(precise(1_700_000_200));
    for key in [&bare, &full] {
        store.insert(key.clone()).await.expect("insert");
        let found = store.find_by_hash(&key.hash).await.expect("find_by_hash");
        assert_eq!(
            found.as_ref(),
            Some(key),
            "find_by_hash returns the key exactly as inserted (nanoseconds included)"
        );
    }
    assert!(
        store
            .find_by_hash(&KeyHash::of(&unique("never-issued")))
            .await
            .expect("find_by_hash")
            .is_none(),
        "an unknown hash finds nothing"
    );
}

async fn ids_and_hashes_are_unique(store: &dyn ApiKeyStore) {
    let tenant = unique("keys-unique");
    let first = new_key(&tenant);
    store.insert(first.clone()).await.expect("insert");
    let mut same_hash = new_key(&tenant);
    same_hash.hash = first.hash;
    assert!(
        matches!(
            store.insert(same_hash).await,
            Err(StoreError::Uniqueness { .. })
        ),
        "a second key with a taken hash is refused with Uniqueness"
    );
    let mut same_id = new_key(&tenant);
    same_id.id = first.id.clone();
    let refused_hash = same_id.hash;
    assert!(
        matches!(
            store.insert(same_id).await,
            Err(StoreError::Uniqueness { .. })
        ),
        "a second key with a taken id is refused with Uniqueness"
    );
    assert!(
        store
            .find_by_hash(&refused_hash)
            .await
            .expect("find")
            .is_none(),
        "a refused insert stores nothing"
    );
    assert_eq!(
        store.list(Some(&tenant)).await.expect("list"),
        vec![first],
        "refused inserts change nothing"
    );
}

async fn lists_are_scoped_by_tenant_in_creation_order(store: &dyn ApiKeyStore) {
    let (a, b) = (unique("keys-list-a"), unique("keys-list-b"));
    let mut inserted = Vec::new();
    for tenant in [&a, &b, &a, &b, &a] {
        let key = new_key(tenant);
        store.insert(key.clone()).await.expect("insert");
        inserted.push(key);
    }
    let of = |t: &str| -> Vec<ApiKeyRecord> {
        inserted
            .iter()
            .filter(|k| &*k.tenant == t)
            .cloned()
            .collect()
    };
    assert_eq!(
        store.list(Some(&a)).await.expect("list"),
        of(&a),
        "list(Some(tenant)) returns that tenant's keys only, in creation order"
    );
    assert_eq!(store.list(Some(&b)).await.expect("list"), of(&b));
    let all: Vec<_> = store
        .list(None)
        .await
        .expect("list")
        .into_iter()
        .filter(|k| *k.tenant == *a || *k.tenant == *b)
        .collect();
    assert_eq!(
        all, inserted,
        "list(None) returns every tenant's keys in creation order"
    );
    assert!(
        store
            .list(Some(&unique("keys-list-none")))
            .await
            .expect("list")
            .is_empty()
    );
}

async fn revocation_is_scoped_and_keeps_the_first_time(store: &dyn ApiKeyStore) {
    let (a, b) = (unique("keys-revoke-a"), unique("keys-revoke-b"));
    let key = new_key(&a);
    let other = new_key(&a);
    store.insert(key.clone()).await.expect("insert");
    store.insert(other.clone()).await.expect("insert");
    let t = precise(1_800_000_000);
    assert!(
        store
            .revoke(&b, &key.id, t)
            .await
            .expect("revoke")
            .is_none(),
        "another tenant cannot revoke the key"
    );
    assert!(
        store
            .revoke(&a, "no-such-key", t)
            .await
            .expect("revoke")
            .is_none()
    );
    assert_eq!(
        store.find_by_hash(&key.hash).await.expect("find"),
        Some(key.clone()),
        "a refused revocation changes nothing"
    );
    let mut revoked = key.clone();
    revoked.revoked_at = Some(t);
    assert_eq!(
        store.revoke(&a, &key.id, t).await.expect("revoke"),
        Some(revoked.clone()),
        "revoke returns the key as stored, revoked at the given time"
    );
    assert_eq!(
        store
            .revoke(&a, &key.id, t + TimeDelta::seconds(5))
            .await
            .expect("revoke"),
        Some(revoked.clone()),
        "revoking a revoked key keeps the first time"
    );
    assert_eq!(
        store.find_by_hash(&key.hash).await.expect("find"),
        Some(revoked.clone()),
        "revoked keys are still found by hash"
    );
    assert_eq!(
        store.list(Some(&a)).await.expect("list"),
        vec![revoked, other],
        "revoked keys stay listed; other keys are untouched"
    );
}

async fn last_use_only_moves_forward(store: &dyn ApiKeyStore) {
    let tenant = unique("keys-use");
    let key = new_key(&tenant);
    let other = new_key(&tenant);
    store.insert(key.clone()).await.expect("insert");
    store.insert(other.clone()).await.expect("insert");
    let last_used = |k: Option<ApiKeyRecord>| k.expect("key is stored").last_used_at;
    let t = precise(1_900_000_000);
    store.record_use(&key.id, t).await.expect("record_use");
    assert_eq!(
        last_used(store.find_by_hash(&key.hash).await.expect("find")),
        Some(t)
    );
    store
        .record_use(&key.id, t - TimeDelta::seconds(1))
        .await
        .expect("record_use");
    store
        .record_use(&key.id, t - TimeDelta::nanoseconds(1))
        .await
        .expect("record_use");
    assert_eq!(
        last_used(store.find_by_hash(&key.hash).await.expect("find")),
        Some(t),
        "an earlier use never moves last_used_at back (to the nanosecond)"
    );
    let later = t + TimeDelta::nanoseconds(1);
    store.record_use(&key.id, later).await.expect("record_use");
    assert_eq!(
        last_used(store.find_by_hash(&key.hash).await.expect("find")),
        Some(later),
        "a later use in the same second moves it forward"
    );
    store
        .record_use("no-such-key", t)
        .await
        .expect("recording the use of an unknown key is not an error");
    assert_eq!(
        last_used(store.find_by_hash(&other.hash).await.expect("find")),
        None,
        "record_use touches only its key"
    );
}

async fn racing_inserts_of_one_secret_store_one_key(store: &dyn ApiKeyStore) {
    let tenant = unique("keys-race");
    let hash = KeyHash::of(&unique("raced-secret"));
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let mut key = new_key(&tenant);
            key.hash = hash;
            Box::pin(store.insert(key)) as Pin<Box<dyn Future<Output = _>>>
        })
        .collect();
    let results: Vec<Result<(), StoreError>> = join_all(racers).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let lost = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Uniqueness { .. })))
        .count();
    assert_eq!(
        (won, lost),
        (1, 5),
        "of racing inserts of one hash exactly one wins: {results:?}"
    );
    assert_eq!(store.list(Some(&tenant)).await.expect("list").len(), 1);
}

/// Runs every [`TenantStore`] check against stores made by `make`.
pub async fn check_tenant_store<S: TenantStore>(make: impl Fn() -> S) {
    each_on_a_fresh_store!(make:
        switches_are_independent,
        setting_a_switch_creates_the_tenant,
        tenants_are_listed_in_byte_order,
        racing_switches_never_overwrite_each_other,
    );
}

fn tenant(id: &str, scim_entitled: bool, scim_enabled: bool) -> Tenant {
    Tenant {
        id: id.to_owned(),
        scim_entitled,
        scim_enabled,
    }
}

async fn switches_are_independent(store: &dyn TenantStore) {
    let id = unique("tenant-switches");
    assert_eq!(
        store.get(&id).await.expect("get"),
        None,
        "unknown tenant is None"
    );
    let steps: [(&str, bool, (bool, bool)); 6] = [
        ("entitled", true, (true, false)),
        ("enabled", true, (true, true)),
        ("entitled", false, (false, true)),
        ("entitled", true, (true, true)),
        ("enabled", false, (true, false)),
        ("entitled", false, (false, false)),
    ];
    for (switch, on, (entitled, enabled)) in steps {
        let returned = if switch == "entitled" {
            store.set_scim_entitled(&id, on).await
        } else {
            store.set_scim_enabled(&id, on).await
        }
        .expect("set switch");
        let expected = tenant(&id, entitled, enabled);
        assert_eq!(
            returned, expected,
            "setting {switch}={on} returns the tenant as stored and keeps the other switch"
        );
        assert_eq!(
            store.get(&id).await.expect("get"),
            Some(expected),
            "get sees the completed write"
        );
    }
}

async fn setting_a_switch_creates_the_tenant(store: &dyn TenantStore) {
    let (a, b) = (unique("tenant-new-a"), unique("tenant-new-b"));
    assert_eq!(
        store.set_scim_enabled(&a, true).await.expect("set"),
        tenant(&a, false, true),
        "enabling an unknown tenant creates it, not entitled"
    );
    assert_eq!(
        store.set_scim_entitled(&b, false).await.expect("set"),
        tenant(&b, false, false),
        "a switch set to its default still creates the tenant"
    );
    assert_eq!(
        store.get(&b).await.expect("get"),
        Some(tenant(&b, false, false))
    );
    let odd = format!("{} \"quoted\" 'é' ; DROP TABLE x; --", unique("tenant-odd"));
    store.set_scim_entitled(&odd, true).await.expect("set");
    assert_eq!(
        store.get(&odd).await.expect("get").map(|t| t.id),
        Some(odd),
        "tenant ids are stored verbatim"
    );
}

async fn tenants_are_listed_in_byte_order(store: &dyn TenantStore) {
    let prefix = unique("tenant-order");
    let mut ids: Vec<String> = ["b", "B", "a", "é", "Z", "a-1", "a1", "_"]
        .iter()
        .map(|s| format!("{prefix}/{s}"))
        .collect();
    for id in &ids {
        store.set_scim_entitled(id, true).await.expect("set");
    }
    ids.sort();
    let listed: Vec<String> = store
        .list()
        .await
        .expect("list")
        .into_iter()
        .filter(|t| t.id.starts_with(&prefix))
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, ids, "tenants are listed by id, in byte order");
}

async fn racing_switches_never_overwrite_each_other(store: &dyn TenantStore) {
    for round in 0..10 {
        let id = unique("tenant-race");
        for on in [true, false] {
            let mut both = vec![
                Box::pin(store.set_scim_entitled(&id, on)) as Pin<Box<dyn Future<Output = _>>>,
                Box::pin(store.set_scim_enabled(&id, on)),
            ];
            if !on {
                both.reverse(); // switched off in the other order
            }
            let set = join_all(both).await;
            assert!(set.iter().all(Result::is_ok), "{set:?}");
            assert_eq!(
                store.get(&id).await.expect("get"),
                Some(tenant(&id, on, on)),
                "round {round}: two switches set to {on} at once are both kept"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{MemoryApiKeyStore, MemoryTenantStore};

    #[tokio::test]
    async fn memory_key_store_passes() {
        check_api_key_store(MemoryApiKeyStore::new).await;
    }

    #[tokio::test]
    async fn memory_tenant_store_passes() {
        check_tenant_store(MemoryTenantStore::new).await;
    }

    #[tokio::test]
    async fn join_all_keeps_the_order_of_its_futures() {
        let futures: Vec<Pin<Box<dyn Future<Output = usize>>>> = (0..4usize)
            .map(|i| Box::pin(async move { i }) as _)
            .collect();
        assert_eq!(join_all(futures).await, [0, 1, 2, 3]);
    }
}
