//! Write checks: racing creates and compare-and-swap across stores (as processes),
//! tenant scoping, versions never reused, NUL refused.

use std::sync::Arc;

use scimkit::filter::parse;
use scimkit::{ListQuery, MultiValue, RequestContext, StoreError, User, UserStore};

use super::*;

/// Two stores (two pools: as two processes) race to create the same userName, in other
/// letter cases: exactly one wins each round.
pub async fn check_racing_creates(a: Arc<dyn UserStore>, b: Arc<dyn UserStore>, tenant: &str) {
    for round in 0..20 {
        let c = RequestContext::system(tenant);
        let name = format!("racer{round}");
        let (ua, ub) = (new_user(&name), new_user(&name.to_uppercase()));
        let (sa, sb, ca, cb) = (a.clone(), b.clone(), c.clone(), c.clone());
        let ta = tokio::spawn(async move { sa.create(&ca, ua).await });
        let tb = tokio::spawn(async move { sb.create(&cb, ub).await });
        let results = [ta.await.unwrap(), tb.await.unwrap()];
        let won = results.iter().filter(|r| r.is_ok()).count();
        let lost = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Uniqueness { attribute }) if attribute == "userName"))
            .count();
        assert_eq!((won, lost), (1, 1), "round {round}: {results:?}");
    }
}

/// Concurrent read-modify-write cycles with compare-and-swap, through several stores
/// (pools): every increment survives.
pub async fn check_no_lost_update(stores: Vec<Arc<dyn UserStore>>, tenant: &str) {
    let c = RequestContext::system(tenant);
    let mut u = new_user("counter");
    u.title = Some("0".into());
    let id = u.id.clone().unwrap();
    stores[0].create(&c, u).await.unwrap();
    let workers = 8;
    let per_worker = 10;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let store = stores[w % stores.len()].clone();
        let (c, id) = (c.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..per_worker {
                loop {
                    let current = store.get(&c, &id).await.unwrap().unwrap();
                    let n: u64 = current.title.as_deref().unwrap().parse().unwrap();
                    let mut next = User::clone(&current);
                    next.title = Some((n + 1).to_string().into());
                    match store.replace(&c, next, current.version()).await {
                        Ok(_) => break,
                        Err(StoreError::VersionMismatch) => conflicts += 1,
                        Err(e) => panic!("replace: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let last = stores[0].get(&c, &id).await.unwrap().unwrap();
    assert_eq!(
        last.title.as_deref(),
        Some((workers * per_worker).to_string().as_str()),
        "no update is lost ({conflicts} conflicts retried)"
    );
}

/// Every operation is scoped by tenant, including filtered lists that use indexes.
pub async fn check_tenant_scoping(store: &dyn UserStore) {
    let (a, b) = (
        RequestContext::system("scope-a"),
        RequestContext::system("scope-b"),
    );
    let mut ua = new_user("shared@example.com");
    ua.external_id = Some("ext".into());
    ua.emails = vec![MultiValue::typed("shared@example.com", "work")];
    let id = ua.id.clone().unwrap();
    let mut ub = ua.clone();
    ub.display_name = Some("b".into());
    let va = store.create(&a, ua).await.unwrap();
    // The same id and userName are free in another tenant.
    store.create(&b, ub).await.unwrap();
    for filter in [
        r#"userName eq "shared@example.com""#,
        r#"externalId eq "ext""#,
        r#"emails.value eq "shared@example.com""#,
        r#"id eq "ID""#,
    ] {
        let filter = filter.replace("ID", &id);
        let q = ListQuery::all(10).with_filter(parse(&filter).unwrap());
        for ctx in [&a, &b] {
            let page = store.list(ctx, &q).await.unwrap();
            assert_eq!(page.total_results, 1, "{filter} in {}", ctx.tenant);
        }
    }
    store.delete(&b, &id, None).await.unwrap();
    assert!(store.get(&b, &id).await.unwrap().is_none());
    let still = store.get(&a, &id).await.unwrap().unwrap();
    assert_eq!(still.version(), va.version());
    assert!(still.display_name.is_none());
}

/// Versions are never reused for a resource, even across a delete and re-create.
pub async fn check_versions_never_reused(store: &dyn UserStore) {
    let c = RequestContext::system("versions");
    let u = new_user("v");
    let first = store.create(&c, u.clone()).await.unwrap();
    store
        .delete(&c, u.id.as_deref().unwrap(), None)
        .await
        .unwrap();
    let second = store.create(&c, u).await.unwrap();
    assert_ne!(first.version(), second.version());
    assert!(matches!(
        store
            .delete(&c, second.id.as_deref().unwrap(), first.version())
            .await,
        Err(StoreError::VersionMismatch)
    ));
}

/// Strings holding U+0000 are refused, not stored half-way.
pub async fn check_nul_is_refused(store: &dyn UserStore) {
    let c = RequestContext::system("nul");
    let mut u = new_user("nul");
    u.display_name = Some("a\0b".into());
    assert!(matches!(
        store.create(&c, u).await,
        Err(StoreError::Backend(_))
    ));
    let q = ListQuery::all(10);
    assert_eq!(store.list(&c, &q).await.unwrap().total_results, 0);
}
