//! Listing checks: filters, sorting and cursor paging in the database agree with
//! [`Filter::matches`] and [`SortSpec::sort`] in Rust; filters the SQL cannot translate.

use std::collections::HashSet;
use std::sync::Arc;

use scimkit::filter::{AttrPath, CompValue, CompareOp, ParseLimits, parse, parse_with_limits};
use scimkit::sort::SortSpec;
use scimkit::{Filter, ListQuery, RequestContext, StoreError, User, UserStore};

use super::*;

fn ids(users: &[Arc<User>]) -> Vec<String> {
    users
        .iter()
        .map(|u| u.id.as_deref().unwrap().to_owned())
        .collect()
}

/// Stores `users` in `tenant`, returning them as stored (read back with `get`).
pub async fn store_all(store: &dyn UserStore, tenant: &str, users: Vec<User>) -> Vec<Arc<User>> {
    let c = RequestContext::system(tenant);
    let mut stored = Vec::new();
    for u in users {
        let id = u.id.clone().unwrap();
        let created = store.create(&c, u).await.expect("create");
        let got = store.get(&c, &id).await.unwrap().unwrap();
        assert_eq!(*created, *got, "create returns what get reads back");
        assert!(got.password.is_none(), "passwords are not stored");
        stored.push(got);
    }
    stored
}

/// Lists with `filter` and asserts the store's answer is [`Filter::matches`]'s.
pub async fn assert_agrees(
    store: &dyn UserStore,
    tenant: &str,
    users: &[Arc<User>],
    filter: &Filter,
) {
    let c = RequestContext::system(tenant);
    let expected: Vec<Arc<User>> = users
        .iter()
        .filter(|u| filter.matches(u))
        .cloned()
        .collect();
    let q = ListQuery::all(1000).with_filter(filter.clone());
    let page = store
        .list(&c, &q)
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert_eq!(ids(&page.resources), ids(&expected), "filter {filter}");
    assert_eq!(
        page.total_results,
        expected.len(),
        "totalResults of {filter}"
    );
    if expected.len() > 3 {
        let q = ListQuery::all(2).with_filter(filter.clone()).starting_at(2);
        let page = store.list(&c, &q).await.unwrap();
        assert_eq!(
            ids(&page.resources),
            ids(&expected[1..3]),
            "page of {filter}"
        );
        assert_eq!(
            page.total_results,
            expected.len(),
            "paged total of {filter}"
        );
    }
}

/// The differential check: `random` generated filters plus [`fixed_filters`], each listed
/// by the store and compared with [`Filter::matches`]. Returns how many filters ran.
pub async fn check_filters_agree(store: &dyn UserStore, random: usize, seed: u64) -> usize {
    let tenant = format!("diff-{seed}");
    let users = store_all(store, &tenant, generated_users(60, seed)).await;
    // Another tenant with the same data must never show up.
    store_all(
        store,
        &format!("{tenant}-other"),
        generated_users(60, seed ^ 0xabc),
    )
    .await;
    let mut texts = fixed_filters(&users);
    let mut rng = Rng::new(seed);
    texts.extend((0..random).map(|_| random_filter(&mut rng, &users, 3)));
    let mut ran = 0;
    let mut selective = 0;
    let mut seen = HashSet::new();
    for text in &texts {
        let Ok(filter) = parse(text) else {
            continue;
        };
        if !seen.insert(filter.to_string()) {
            continue;
        }
        assert_agrees(store, &tenant, &users, &filter).await;
        let hits = users.iter().filter(|u| filter.matches(u)).count();
        if hits > 0 && hits < users.len() {
            selective += 1;
        }
        ran += 1;
    }
    assert!(
        selective * 3 > ran,
        "only {selective} of {ran} filters select a proper subset: the check is too weak"
    );
    ran
}

/// Sorting in the database agrees with [`SortSpec::sort`] over the stable order, for
/// every sortable path, both directions, with and without a filter, and across pages.
pub async fn check_sorts_agree(store: &dyn UserStore, seed: u64) {
    let tenant = format!("sort-{seed}");
    let c = RequestContext::system(&tenant);
    let users = store_all(store, &tenant, generated_users(60, seed)).await;
    for path in PATHS {
        for order in [None, Some("descending")] {
            let spec = SortSpec::parse(path, order).unwrap();
            for filter in [None, Some(r#"emails pr or title sw "a""#)] {
                let filter = filter.map(|f| parse(f).unwrap());
                let matching: Vec<Arc<User>> = users
                    .iter()
                    .filter(|u| filter.as_ref().is_none_or(|f| f.matches(u)))
                    .cloned()
                    .collect();
                let expected = spec.sort(matching);
                let mut q = ListQuery::all(1000).sorted_by(spec.clone());
                q.filter = filter.clone();
                let page = store.list(&c, &q).await.unwrap();
                assert_eq!(
                    ids(&page.resources),
                    ids(&expected),
                    "sortBy={path} {order:?}"
                );
                let q = q.clone().starting_at(5);
                let mut q = q;
                q.count = 4;
                let page = store.list(&c, &q).await.unwrap();
                assert_eq!(
                    ids(&page.resources),
                    ids(&expected[4..8]),
                    "page of sortBy={path}"
                );
                assert_eq!(page.total_results, expected.len());
            }
        }
    }
}

/// RFC 9865 cursor paging: following `next_cursor` from `""` visits every match once, in
/// order, with the total on every page; sorted or not, filtered or not.
pub async fn check_cursor_paging(store: &dyn UserStore, seed: u64) {
    assert!(store.supports_cursors());
    let tenant = format!("cursor-{seed}");
    let c = RequestContext::system(&tenant);
    let users = store_all(store, &tenant, generated_users(40, seed)).await;
    let sorts = [
        None,
        Some(SortSpec::parse("title", Some("descending")).unwrap()),
    ];
    let filters = [None, Some(parse(r#"not (title sw "a")"#).unwrap())];
    for sort in &sorts {
        for filter in &filters {
            for count in [1, 7, 40, 100] {
                let matching: Vec<Arc<User>> = users
                    .iter()
                    .filter(|u| filter.as_ref().is_none_or(|f| f.matches(u)))
                    .cloned()
                    .collect();
                let expected = match sort {
                    Some(s) => s.sort(matching),
                    None => matching,
                };
                let mut seen = Vec::new();
                let mut cursor = String::new();
                for _ in 0..=users.len() {
                    let mut q = ListQuery::all(count);
                    q.filter = filter.clone();
                    q.sort = sort.clone();
                    q.cursor = Some(cursor.clone());
                    let page = store.list(&c, &q).await.unwrap();
                    assert_eq!(page.total_results, expected.len(), "total on every page");
                    assert!(page.resources.len() <= count);
                    seen.extend(page.resources);
                    match page.next_cursor {
                        Some(next) => cursor = next,
                        None => break,
                    }
                }
                assert_eq!(ids(&seen), ids(&expected), "count {count}, sort {sort:?}");
            }
        }
    }
    let mut q = ListQuery::all(5);
    q.cursor = Some("not-a-position".into());
    assert!(matches!(
        store.list(&c, &q).await,
        Err(StoreError::InvalidFilter(_))
    ));
}

/// A filter shape the parser never produces (a value filter on a sub-attribute) is not
/// translated: it is evaluated in Rust over the candidates, or refused past the limit.
pub async fn check_untranslatable_filter(store: &dyn UserStore, small: &dyn UserStore) {
    let tenant = "fallback";
    let users = store_all(store, tenant, generated_users(30, 7)).await;
    let odd = Filter::ValuePath {
        path: AttrPath::with_sub("emails", "value"),
        filter: Box::new(Filter::Compare {
            path: AttrPath::new("x"),
            op: CompareOp::Eq,
            value: CompValue::String("y".into()),
        }),
    };
    for filter in [
        odd.clone(),
        Filter::Not(Box::new(odd.clone())),
        Filter::Or(
            Box::new(odd.clone()),
            Box::new(parse(r#"title sw "a""#).unwrap()),
        ),
        Filter::And(
            Box::new(Filter::Not(Box::new(odd.clone()))),
            Box::new(parse(r#"emails pr"#).unwrap()),
        ),
    ] {
        assert_agrees(store, tenant, &users, &filter).await;
    }
    store_all(small, tenant, generated_users(30, 7)).await;
    let c = RequestContext::system(tenant);
    let q = ListQuery::all(10).with_filter(Filter::Not(Box::new(odd)));
    assert!(matches!(
        small.list(&c, &q).await,
        Err(StoreError::InvalidFilter(_))
    ));
}

/// Long `or` chains (1,000 terms) stay within the database's expression limits.
pub async fn check_long_filter(store: &dyn UserStore) {
    let tenant = "long";
    let users = store_all(store, tenant, generated_users(10, 3)).await;
    let mut text = vec![r#"title eq "nothing""#.to_owned(); 999];
    text.push(format!(
        "userName eq {}",
        serde_json::to_string(&users[4].user_name).unwrap()
    ));
    let limits = ParseLimits {
        max_len: 1 << 20,
        max_depth: 256,
        ..ParseLimits::default()
    };
    let filter = parse_with_limits(&text.join(" or "), &limits).unwrap();
    assert_agrees(store, tenant, &users, &filter).await;
    let nested = (0..250).fold(r#"emails pr"#.to_owned(), |f, _| format!("not ({f})"));
    let nested = parse_with_limits(&nested, &limits).unwrap();
    assert_agrees(store, tenant, &users, &nested).await;
}
