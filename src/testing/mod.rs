//! A conformance suite any [`UserStore`] implementation can run against itself
//! (feature `testing`).
//!
//! ```
//! # async fn demo() {
//! scimkit::testing::check_user_store(|| scimkit::MemoryUserStore::new()).await;
//! # }
//! ```
//!
//! Each check gets a fresh store from the factory and panics with a message naming the
//! broken rule of the [`crate::store`] contract: CRUD, userName uniqueness (also between
//! racing creates), compare-and-swap on the version, tenant isolation, paging totals,
//! sorting, and the [`differential`] property (random filters over random users list the
//! same users as [`Filter::matches`](crate::Filter::matches)). [`arbitrary`] holds the
//! proptest strategies behind it, for a store's own properties. With the `postgres`
//! feature, `postgres::Schemas` gives tests a scratch schema on a PostgreSQL test server.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

/// Runs each check, in order, on a fresh store from `make` (a suite's entry point).
macro_rules! each_on_a_fresh_store {
    ($make:ident: $($check:path),+ $(,)?) => {
        $($check(&$make()).await;)+
    };
}

pub mod arbitrary;
pub mod differential;
pub mod faults;
pub mod group_outbox;
pub mod groups;
pub mod keys;
pub mod outbox;
#[cfg(feature = "postgres")]
pub mod postgres;

use chrono::{SubsecRound, Utc};

use crate::filter::parse;
use crate::list::ListQuery;
use crate::resource::{Meta, User};
use crate::store::{RequestContext, StoreError, UserStore};

fn ctx(tenant: &str) -> RequestContext {
    RequestContext::system(tenant)
}

/// A new user as the server would pass it to `create`: id and meta set, no version.
pub fn new_user(user_name: &str) -> User {
    let mut u = User::new(user_name);
    u.id = Some(uuid::Uuid::new_v4().to_string().into());
    u.meta = Some(Meta::new("User", Utc::now().trunc_subsecs(3)));
    u.active = Some(true);
    u
}

/// Runs `f` to completion on a new single-threaded runtime, with timers (the crate's unit
/// tests).
#[cfg(test)]
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a test runtime starts")
        .block_on(f)
}

fn query(filter: Option<&str>, start_index: usize, count: usize) -> ListQuery {
    let mut q = ListQuery::all(count).starting_at(start_index);
    q.filter = filter.map(|f| parse(f).expect("test filter parses"));
    q
}

fn names(users: &[std::sync::Arc<User>]) -> Vec<&str> {
    users.iter().map(|u| u.user_name.as_str()).collect()
}

/// Runs every check against stores made by `make`.
pub async fn check_user_store<S: UserStore>(make: impl Fn() -> S) {
    each_on_a_fresh_store!(make:
        create_then_get_returns_the_user_with_a_version,
        user_name_is_unique_per_tenant_case_insensitively,
        tenants_never_meet,
        replace_is_compare_and_swap_on_version,
        replace_enforces_user_name_uniqueness,
        delete_removes_and_honours_version,
        list_counts_before_paging_in_stable_order,
        list_filters_and_keeps_deactivated_users,
        list_sorts_before_paging,
        racing_creates_of_one_user_name_give_one_winner,
        kept_users_are_stored_versions_of_their_tenant,
        differential::check_filters_agree,
    );
}

/// `UserStore::kept` (an update's base without a read) may be stale, but only ever hands
/// out a version the store stored of that user, in that tenant; after this process's own
/// write it is that write or nothing.
async fn kept_users_are_stored_versions_of_their_tenant(store: &dyn UserStore) {
    let (a, b) = (ctx("kept-a"), ctx("kept-b"));
    let created = store.create(&a, new_user("kept")).await.expect("create");
    let id = created.id.clone().expect("id");
    let same = |kept: Option<std::sync::Arc<User>>, stored: &User, what: &str| {
        if let Some(kept) = kept {
            assert_eq!(&*kept, stored, "kept after {what} is the stored user");
        }
    };
    same(store.kept(&a, &id), &created, "create");
    assert!(
        store.kept(&b, &id).is_none(),
        "kept users never cross tenants"
    );
    assert!(store.kept(&a, "no-such-id").is_none());
    let got = store.get(&a, &id).await.expect("get").expect("stored");
    same(store.kept(&a, &id), &got, "get");
    let mut next = User::clone(&got);
    next.title = Some("Kept".into());
    let replaced = store
        .replace(&a, next, got.version())
        .await
        .expect("replace");
    same(store.kept(&a, &id), &replaced, "replace");
    // A write from a stale copy whose userName another user has taken since: the version
    // decides first (the server then reads again), not the uniqueness of the name.
    let mut renamed = User::clone(&replaced);
    renamed.user_name = "kept-renamed".into();
    let renamed = store
        .replace(&a, renamed, replaced.version())
        .await
        .expect("rename");
    store
        .create(&a, new_user("kept"))
        .await
        .expect("the old name is free");
    let stale = store
        .replace(&a, User::clone(&replaced), replaced.version())
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch)),
        "a stale version is a mismatch before a taken userName: {stale:?}"
    );
    let _ = renamed;
    store.delete(&a, &id, None).await.expect("delete");
    // A deleted user may still be kept (another process's view is no fresher); an update
    // from it misses its swap and reads the user: not found.
    if let Some(kept) = store.kept(&a, &id) {
        let missed = store.replace(&a, User::clone(&kept), kept.version()).await;
        assert!(
            matches!(missed, Err(StoreError::NotFound)),
            "a write from a kept copy of a deleted user: {missed:?}"
        );
    }
}

/// Creates users `{prefix}0` to `{prefix}{n - 1}`, in order; returns their userNames.
async fn create_numbered(
    store: &dyn UserStore,
    c: &RequestContext,
    prefix: &str,
    n: usize,
) -> Vec<String> {
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    for name in &names {
        store.create(c, new_user(name)).await.expect("create");
    }
    names
}

/// Asserts that `user_name` can be taken, by creating a user with it.
async fn assert_free(store: &dyn UserStore, c: &RequestContext, user_name: &str, why: &str) {
    if let Err(e) = store.create(c, new_user(user_name)).await {
        panic!("{why}: {e}");
    }
}

async fn racing_creates_of_one_user_name_give_one_winner(store: &dyn UserStore) {
    let c = ctx("race");
    let creates = (0..8).map(|i| {
        let name = if i % 2 == 0 { "Racer" } else { "RACER" };
        store.create(&c, new_user(name))
    });
    let results = join_all(creates.collect()).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "racing creates of one userName: {results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, StoreError::Uniqueness { attribute } if attribute == "userName"),
                "a losing racer must get a uniqueness error, got {e:?}"
            );
        }
    }
    let listed = store.list(&c, &query(None, 1, 100)).await.expect("list");
    assert_eq!(listed.total_results, 1, "exactly one racer is stored");
}

/// Polls every future until all are ready, on the caller's runtime (the library has no
/// executor of its own).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(outputs.drain(..).flatten().collect())
        }
    })
    .await
}

async fn create_then_get_returns_the_user_with_a_version(store: &dyn UserStore) {
    let c = ctx("t1");
    let mut u = new_user("bjensen");
    u.external_id = Some("ext-1".into());
    let stored = store.create(&c, u.clone()).await.expect("create");
    assert!(
        stored.version().is_some(),
        "create must assign meta.version"
    );
    let version = stored.version().unwrap_or_default();
    assert!(
        is_entity_tag(version),
        "meta.version must be an HTTP entity tag (the server sends it as ETag), such as \
         W/\"1\": got {version:?}"
    );
    let id = u.id.clone().unwrap();
    let got = store
        .get(&c, &id)
        .await
        .expect("get")
        .expect("created user is found");
    assert_eq!(got.user_name, "bjensen");
    assert_eq!(got.external_id.as_deref(), Some("ext-1"));
    assert_eq!(got.version(), stored.version());
    assert!(store.get(&c, "no-such-id").await.expect("get").is_none());
}

/// Whether `tag` is an entity tag (RFC 9110 §8.8.3): `W/"…"` or `"…"`, the part between
/// the quotes visible ASCII (or non-ASCII) without a quote.
pub fn is_entity_tag(tag: &str) -> bool {
    let opaque = tag.strip_prefix("W/").unwrap_or(tag);
    opaque
        .strip_prefix('"')
        .and_then(|o| o.strip_suffix('"'))
        .is_some_and(|inner| {
            inner
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        })
}

async fn user_name_is_unique_per_tenant_case_insensitively(store: &dyn UserStore) {
    let c = ctx("t1");
    store
        .create(&c, new_user("Alice@Example.com"))
        .await
        .expect("create");
    for dup in [
        "Alice@Example.com",
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
    ] {
        match store.create(&c, new_user(dup)).await {
            Err(StoreError::Uniqueness { attribute }) => assert_eq!(attribute, "userName"),
            other => panic!("duplicate userName {dup:?} must be a uniqueness error, got {other:?}"),
        }
    }
}

async fn tenants_never_meet(store: &dyn UserStore) {
    let (a, b) = (ctx("tenant-a"), ctx("tenant-b"));
    let u = new_user("same");
    let id = u.id.clone().unwrap();
    store.create(&a, u).await.expect("create in a");
    store
        .create(&b, new_user("same"))
        .await
        .expect("the same userName is free in another tenant");
    assert!(
        store.get(&b, &id).await.expect("get").is_none(),
        "tenant b must not see a's user"
    );
    let listed = store.list(&b, &query(None, 1, 100)).await.expect("list");
    assert_eq!(listed.total_results, 1, "tenant b lists only its own users");
    assert!(matches!(
        store.delete(&b, &id, None).await,
        Err(StoreError::NotFound)
    ));
    let mut renamed = User::clone(&store.get(&a, &id).await.unwrap().unwrap());
    renamed.display_name = Some("x".into());
    assert!(matches!(
        store.replace(&b, renamed, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .get(&a, &id)
            .await
            .unwrap()
            .unwrap()
            .display_name
            .is_none()
    );
}

async fn replace_is_compare_and_swap_on_version(store: &dyn UserStore) {
    let c = ctx("t1");
    let v1 = store.create(&c, new_user("cas")).await.expect("create");
    let old = v1.version().unwrap().to_owned();
    let mut next = User::clone(&v1);
    next.title = Some("first".into());
    let v2 = store
        .replace(&c, next, Some(&old))
        .await
        .expect("replace with current version");
    let new = v2.version().unwrap().to_owned();
    assert_ne!(old, new, "replace must assign a new version");
    let mut stale = User::clone(&v1);
    stale.title = Some("lost".into());
    assert!(
        matches!(
            store.replace(&c, stale, Some(&old)).await,
            Err(StoreError::VersionMismatch)
        ),
        "replace with a stale version must fail"
    );
    let got = store
        .get(&c, v1.id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.title.as_deref(),
        Some("first"),
        "a failed CAS must not write"
    );
    let mut missing = new_user("ghost");
    missing.title = Some("x".into());
    assert!(matches!(
        store.replace(&c, missing, None).await,
        Err(StoreError::NotFound)
    ));
}

async fn replace_enforces_user_name_uniqueness(store: &dyn UserStore) {
    let c = ctx("t1");
    store.create(&c, new_user("taken")).await.unwrap();
    let other = store.create(&c, new_user("other")).await.unwrap();
    let rename = |user_name: &str| {
        let mut renamed = User::clone(&other);
        renamed.user_name = user_name.into();
        store.replace(&c, renamed, None)
    };
    assert!(matches!(
        rename("TAKEN").await,
        Err(StoreError::Uniqueness { .. })
    ));
    rename("OTHER")
        .await
        .expect("changing the case of one's own userName is allowed");
    rename("fresh").await.unwrap();
    assert_free(
        store,
        &c,
        "other",
        "the old userName is free after a rename",
    )
    .await;
}

async fn delete_removes_and_honours_version(store: &dyn UserStore) {
    let c = ctx("t1");
    let u = store.create(&c, new_user("gone")).await.unwrap();
    let id = u.id.clone().unwrap();
    assert!(matches!(
        store.delete(&c, &id, Some("W/\"not-the-version\"")).await,
        Err(StoreError::VersionMismatch)
    ));
    store
        .delete(&c, &id, u.version())
        .await
        .expect("delete with current version");
    assert!(store.get(&c, &id).await.unwrap().is_none());
    assert!(matches!(
        store.delete(&c, &id, None).await,
        Err(StoreError::NotFound)
    ));
    assert_free(store, &c, "gone", "a deleted userName is free again").await;
}

async fn list_counts_before_paging_in_stable_order(store: &dyn UserStore) {
    let c = ctx("t1");
    create_numbered(store, &c, "user", 7).await;
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let page = store.list(&c, &query(None, start, 3)).await.unwrap();
        assert_eq!(page.total_results, 7, "totalResults counts every match");
        seen.extend(names(&page.resources).into_iter().map(str::to_owned));
    }
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    sorted_seen.dedup();
    assert_eq!(
        sorted_seen.len(),
        7,
        "paging neither skips nor repeats: {seen:?}"
    );
    let again: Vec<String> = store
        .list(&c, &query(None, 1, 100))
        .await
        .unwrap()
        .resources
        .iter()
        .map(|u| u.user_name.to_string())
        .collect();
    assert_eq!(again, seen, "the order is stable across calls");
    let past = store.list(&c, &query(None, 50, 3)).await.unwrap();
    assert_eq!((past.total_results, past.resources.len()), (7, 0));
    let count_only = store.list(&c, &query(None, 1, 0)).await.unwrap();
    assert_eq!(
        (count_only.total_results, count_only.resources.len()),
        (7, 0)
    );
}

async fn list_filters_and_keeps_deactivated_users(store: &dyn UserStore) {
    let c = ctx("t1");
    let mut a = new_user("Ann@Example.com");
    a.external_id = Some("E-1".into());
    a.active = Some(false);
    a.title = Some("Engineer".into());
    store.create(&c, a).await.unwrap();
    let mut b = new_user("bob@example.com");
    b.external_id = Some("e-1".into());
    store.create(&c, b).await.unwrap();
    let cases: &[(&str, &[&str])] = &[
        (r#"userName eq "ann@example.com""#, &["Ann@Example.com"]),
        (r#"externalId eq "E-1""#, &["Ann@Example.com"]),
        (r#"active eq false"#, &["Ann@Example.com"]),
        (r#"title eq "engineer""#, &["Ann@Example.com"]),
        (r#"userName eq "ann@example.com" and active eq true"#, &[]),
        (
            r#"userName sw "b" or externalId eq "E-1""#,
            &["Ann@Example.com", "bob@example.com"],
        ),
        (r#"userName eq "nobody""#, &[]),
    ];
    for (filter, expected) in cases {
        let page = store.list(&c, &query(Some(filter), 1, 100)).await;
        match page {
            Ok(page) => {
                let mut got = names(&page.resources);
                got.sort();
                assert_eq!(&got, expected, "filter {filter}");
                assert_eq!(page.total_results, expected.len(), "filter {filter}");
            }
            Err(StoreError::InvalidFilter(_)) => {} // refusing is allowed; unfiltered rows are not
            Err(e) => panic!("filter {filter}: {e}"),
        }
    }
}

async fn list_sorts_before_paging(store: &dyn UserStore) {
    let c = ctx("t1");
    for (name, family) in [
        ("u1", Some("delta")),
        ("u2", Some("Alpha")),
        ("u3", None),
        ("u4", Some("charlie")),
    ] {
        let mut u = new_user(name);
        if let Some(f) = family {
            u.name = Some(crate::resource::Name {
                family_name: Some(f.into()),
                ..Default::default()
            });
        }
        store.create(&c, u).await.unwrap();
    }
    let sorted = |by: &str, order: Option<&str>, start: usize, count: usize| {
        let mut q = query(None, start, count);
        q.sort = Some(crate::sort::SortSpec::parse(by, order).unwrap());
        q
    };
    let page = store
        .list(&c, &sorted("name.familyName", None, 1, 10))
        .await
        .unwrap();
    assert_eq!(
        names(&page.resources),
        ["u2", "u4", "u1", "u3"],
        "ascending, case-insensitive, absent last"
    );
    let page = store
        .list(&c, &sorted("name.familyName", Some("descending"), 2, 2))
        .await
        .unwrap();
    assert_eq!(
        names(&page.resources),
        ["u4", "u2"],
        "descending, sorted before paging"
    );
    assert_eq!(page.total_results, 4);
    let page = store
        .list(&c, &sorted("userName", Some("descending"), 1, 1))
        .await
        .unwrap();
    assert_eq!(names(&page.resources), ["u4"]);
}
