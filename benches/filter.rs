//! Criterion benchmarks of the filter engine: parsing, typed evaluation, a `co` scan over
//! 100,000 users, and `MemoryUserStore::list` answering `userName eq` from its index at
//! 1,000 and 1,000,000 users.
//!
//! `cargo bench --bench filter -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use scimkit::filter::{Filter, parse};
use scimkit::list::ListQuery;
use scimkit::{
    EnterpriseUser, MemoryUserStore, Meta, MultiValue, Name, RequestContext, User, UserStore,
};

const SIMPLE: &str = r#"userName eq "bjensen@example.com""#;

/// Ten attribute expressions, one of them a value path with two.
const TEN_CLAUSES: &str = r#"userName sw "user" and active eq true and emails[type eq "work" and value co "@example.com"] and (title pr or displayName co "jensen") and not (userType eq "Contractor") and meta.lastModified gt "2024-01-01T00:00:00Z" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Tour Operations" and name.familyName ew "SEN""#;

/// A typical provisioned user, as an IdP sends it, with `id` and `meta` set as the server
/// would.
fn typical_user(i: usize) -> User {
    let mut u = User::new(format!("user{i}@example.com"));
    u.id = Some(uuid::Uuid::new_v4().to_string().into());
    u.external_id = Some(format!("00u{i:08}").into());
    u.name = Some(Name {
        given_name: Some("Barbara".into()),
        family_name: Some("Jensen".into()),
        formatted: Some("Barbara Jensen".into()),
        ..Name::default()
    });
    u.display_name = Some("Barbara Jensen".into());
    u.title = Some("Tour Guide".into());
    u.locale = Some("en-US".into());
    u.active = Some(true);
    u.emails = vec![MultiValue {
        primary: Some(true),
        ..MultiValue::typed(format!("user{i}@example.com"), "work")
    }];
    u.phone_numbers = vec![MultiValue::typed("+1 555 555 5555", "work")];
    u.enterprise = Some(EnterpriseUser {
        employee_number: Some(i.to_string().into()),
        department: Some("Tour Operations".into()),
        ..EnterpriseUser::default()
    });
    u.meta = Some(Meta::new("User", chrono::Utc::now()));
    u
}

/// Drives a future that is ready at once (`MemoryUserStore` never waits), so that the
/// measurement is the store's work, not an executor's scheduling.
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn bench_parse_and_match(c: &mut Criterion) {
    let mut g = c.benchmark_group("filter");
    g.bench_function("parse_user_name_eq", |b| {
        b.iter(|| parse(black_box(SIMPLE)).unwrap())
    });
    g.bench_function("parse_10_clauses_value_path", |b| {
        b.iter(|| parse(black_box(TEN_CLAUSES)).unwrap())
    });
    let f = parse(TEN_CLAUSES).unwrap();
    let user = typical_user(7);
    assert!(
        f.matches(&user),
        "the 10-clause filter should match the typical user"
    );
    g.bench_function("matches_10_clauses_one_user", |b| {
        b.iter(|| black_box(&f).matches(black_box(&user)))
    });
    // What `matches` cost before typed evaluation: build the JSON, evaluate that.
    g.bench_function("matches_value_via_to_value_10_clauses_one_user", |b| {
        b.iter(|| black_box(&f).matches_value(&black_box(&user).to_value()))
    });
    g.finish();
}

fn bench_scan(c: &mut Criterion) {
    const N: usize = 100_000;
    let users: Vec<User> = (0..N).map(typical_user).collect();
    let f: Filter = parse(r#"emails.value co "ple.co""#).unwrap();
    let mut g = c.benchmark_group("filter");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("co_scan_100k_users", |b| {
        b.iter(|| {
            let n = black_box(&users)
                .iter()
                .filter(|u| black_box(&f).matches(u))
                .count();
            assert_eq!(n, N);
            n
        })
    });
    g.finish();
}

fn bench_store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ctx = RequestContext::system("bench");
    let mut g = c.benchmark_group("memory_store_list_user_name_eq");
    for n in [1_000usize, 1_000_000] {
        let store = MemoryUserStore::new();
        rt.block_on(async {
            for i in 0..n {
                store.create(&ctx, typical_user(i)).await.unwrap();
            }
        });
        let query = ListQuery::all(100)
            .with_filter(parse(&format!(r#"userName eq "USER{}@example.com""#, n / 3)).unwrap());
        g.bench_with_input(BenchmarkId::from_parameter(n), &query, |b, query| {
            b.iter(|| {
                let page = ready(store.list(&ctx, black_box(query))).unwrap();
                assert_eq!(page.total_results, 1);
                page
            })
        });
        // Free the big store before building the next one.
        drop(store);
    }
    g.finish();
}

criterion_group!(benches, bench_parse_and_match, bench_scan, bench_store);
criterion_main!(benches);
