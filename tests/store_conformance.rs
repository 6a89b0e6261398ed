//! The shared `UserStore` conformance suite, run against `MemoryUserStore`, and proof that
//! its differential property catches a store that answers filters wrongly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use scimkit::testing::differential::{Differential, check_filters_agree};
use scimkit::{
    Filter, ListPage, ListQuery, MemoryUserStore, RequestContext, StoreError, User, UserStore,
};

#[tokio::test]
async fn memory_user_store_passes_the_conformance_suite() {
    scimkit::testing::check_user_store(scimkit::MemoryUserStore::new).await;
}

#[tokio::test]
async fn memory_user_store_lists_what_filter_matches_selects() {
    let report = check_filters_agree(&MemoryUserStore::new()).await;
    println!("{report:?}");
    assert!(report.filters > 100, "too few filters compared: {report:?}");
    // The seed is drawn anew each run. Over twelve runs 22-39 % of the filters were
    // selective (mean 29 %); the bound used to be a fifth, which one run in about forty
    // missed (CI failed on 35 of 179). An eighth still fails a generator that stopped
    // making selective filters (near 0 %).
    assert!(
        report.selective * 8 > report.filters,
        "filters too rarely select a proper subset: {report:?}"
    );
    assert_eq!(report.refused, 0, "the memory store evaluates every filter");
}

/// A store with a classic push-down bug: `not (x)` translated as `x` (the `not` dropped).
struct DropsNot(MemoryUserStore);

fn without_not(f: &Filter) -> Filter {
    match f {
        Filter::Not(inner) => without_not(inner),
        Filter::And(l, r) => Filter::And(Box::new(without_not(l)), Box::new(without_not(r))),
        Filter::Or(l, r) => Filter::Or(Box::new(without_not(l)), Box::new(without_not(r))),
        other => other.clone(),
    }
}

#[async_trait]
impl UserStore for DropsNot {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        self.0.create(ctx, user).await
    }
    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        self.0.get(ctx, id).await
    }
    async fn replace(
        &self,
        ctx: &RequestContext,
        user: User,
        expected_version: Option<&str>,
    ) -> Result<Arc<User>, StoreError> {
        self.0.replace(ctx, user, expected_version).await
    }
    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        self.0.delete(ctx, id, expected_version).await
    }
    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        let mut query = query.clone();
        query.filter = query.filter.as_ref().map(without_not);
        self.0.list(ctx, &query).await
    }
}

#[tokio::test]
#[should_panic(expected = "the store disagrees with Filter::matches")]
async fn the_differential_property_catches_a_store_that_drops_not() {
    let check = Differential {
        cases: 256,
        ..Differential::default()
    };
    check.run(&DropsNot(MemoryUserStore::new())).await;
}

/// A store whose `meta.version` is not an entity tag (`1` instead of `W/"1"`): the server
/// would send it as a malformed `ETag`.
struct BareVersions(MemoryUserStore);

#[async_trait]
impl UserStore for BareVersions {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        let mut stored = (*self.0.create(ctx, user).await?).clone();
        if let Some(meta) = stored.meta.as_mut() {
            meta.version = Some("1".into());
        }
        Ok(Arc::new(stored))
    }
    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        self.0.get(ctx, id).await
    }
    async fn replace(
        &self,
        ctx: &RequestContext,
        user: User,
        expected: Option<&str>,
    ) -> Result<Arc<User>, StoreError> {
        self.0.replace(ctx, user, expected).await
    }
    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&str>,
    ) -> Result<(), StoreError> {
        self.0.delete(ctx, id, expected).await
    }
    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        self.0.list(ctx, query).await
    }
}

#[test]
fn the_conformance_suite_rejects_a_version_that_is_not_an_entity_tag() {
    let run = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(scimkit::testing::check_user_store(|| {
            BareVersions(MemoryUserStore::new())
        }));
    });
    assert!(run.join().is_err(), "the suite must fail on version 1");
    assert!(scimkit::testing::is_entity_tag("W/\"1\""));
    assert!(scimkit::testing::is_entity_tag("\"abc\""));
    for bad in ["1", "W/1", "\"a\"b\"", "W/\"", ""] {
        assert!(!scimkit::testing::is_entity_tag(bad), "{bad}");
    }
}
