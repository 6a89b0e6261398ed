//! SQL push-down is injection-safe: filters whose literals are SQL fragments, LIKE
//! metacharacters or quote tricks select exactly what `Filter::matches` selects on the
//! same users, never touch another tenant, and leave the schema intact — on SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimkit::filter::parse;
use scimkit::store::SqliteUserStore;
use scimkit::testing::new_user;
use scimkit::testing::postgres::Schemas;
use scimkit::{ListQuery, RequestContext, User, UserStore};

/// userNames and titles that are themselves attacks.
const NASTY: &[&str] = &[
    "x' OR '1'='1",
    "x\" OR \"1\"=\"1",
    "'; DROP TABLE scimkit_users; --",
    "%",
    "_",
    "100%_done",
    "back\\slash",
    "a'--",
    "); DELETE FROM scimkit_users WHERE (1=1",
    "ünïcödé ' OR 1=1",
    "$1",
    "?",
];

fn users() -> Vec<User> {
    NASTY
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut u = new_user(&format!("user{i}-{s}"));
            u.title = Some((*s).into());
            u.display_name = Some(format!("D {s}").into());
            u.emails = vec![scimkit::MultiValue::typed(
                format!("{i}{s}@example.com"),
                "work",
            )];
            u
        })
        .collect()
}

fn filters() -> Vec<String> {
    let mut out = Vec::new();
    for s in NASTY {
        let lit = serde_json::to_string(s).unwrap();
        for f in [
            format!("title eq {lit}"),
            format!("title co {lit}"),
            format!("title sw {lit}"),
            format!("title ew {lit}"),
            format!("displayName co {lit} or title eq {lit}"),
            format!("userName co {lit}"),
            format!("emails[value co {lit}]"),
            format!("not (title eq {lit})"),
            format!("title gt {lit}"),
        ] {
            out.push(f);
        }
    }
    out
}

async fn check(store: &dyn UserStore, tenant: &str, other: &str) {
    let ctx = RequestContext::system(tenant);
    let other_ctx = RequestContext::system(other);
    let data = users();
    for u in data.clone() {
        store.create(&ctx, u).await.unwrap();
    }
    // The other tenant holds one user every filter could match if scoping failed.
    store
        .create(&other_ctx, new_user("%' OR '1'='1"))
        .await
        .unwrap();
    for f in filters() {
        let filter = parse(&f).unwrap();
        let expected: Vec<&str> = data
            .iter()
            .filter(|u| filter.matches(u))
            .map(|u| u.user_name.as_str())
            .collect();
        let page = store
            .list(&ctx, &ListQuery::all(1000).with_filter(filter.clone()))
            .await
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        let mut got: Vec<&str> = page
            .resources
            .iter()
            .map(|u| u.user_name.as_str())
            .collect();
        let mut want = expected.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "filter {f}");
        assert_eq!(page.total_results, want.len(), "filter {f}");
    }
    let all = store.list(&ctx, &ListQuery::all(1000)).await.unwrap();
    assert_eq!(all.total_results, data.len(), "the table is intact");
    let others = store.list(&other_ctx, &ListQuery::all(1000)).await.unwrap();
    assert_eq!(others.total_results, 1);
}

#[tokio::test]
async fn sqlite_push_down_is_injection_safe() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    check(&store, "acme", "globex").await;
}

#[tokio::test]
async fn postgres_push_down_is_injection_safe() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let store = schemas.store().await;
    check(&store, "acme", "globex").await;
    store.pool().close().await;
    schemas.drop_all().await;
}
