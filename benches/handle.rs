//! Criterion benchmarks of the request pipeline on `MemoryUserStore`.
//!
//! `cargo bench --bench handle`; results and method are recorded in BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator, User};
use serde_json::json;

const KEY: &str = "bench-key";

fn typical_user(i: usize) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": format!("user{i}@example.com"),
        "externalId": format!("00u{i:08}"),
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
        "displayName": "Barbara Jensen",
        "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+1 555 555 5555", "type": "work"}],
        "title": "Tour Guide",
        "locale": "en-US",
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": format!("{i}"), "department": "Tour Operations"}
    })
}

fn request(method: &str, uri: &str, body: Vec<u8>) -> http::Request<Vec<u8>> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "bench.example.com")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/scim+json")
        .body(body)
        .unwrap()
}

/// Drives a future that `MemoryUserStore` makes ready at once, without a runtime's
/// scheduling cost (that cost belongs to the host's executor, not to scimkit).
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::hint::spin_loop();
    }
}

/// A server with `n` users; returns it and the id of one of them.
fn setup(rt: &tokio::runtime::Runtime, n: usize) -> (ScimServer, String, User) {
    let server = ScimServer::builder()
        .store(MemoryUserStore::new())
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new("bench", "k")))
        .build()
        .unwrap();
    let mut id = String::new();
    let mut user = None;
    rt.block_on(async {
        for i in 0..n {
            let body = serde_json::to_vec(&typical_user(i)).unwrap();
            let resp = server.handle(request("POST", "/scim/v2/Users", body)).await;
            assert_eq!(resp.status(), 201);
            if i == n / 2 {
                let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
                id = v["id"].as_str().unwrap().to_owned();
            }
        }
        // The baseline serializes the same User the GET returns: as stored, with its id
        // and meta (created, lastModified, version).
        let ctx = scimkit::RequestContext::new(Principal::new("bench", "k"), "setup");
        user = Some(User::clone(&server.get_user(&ctx, &id).await.unwrap()));
    });
    (server, id, user.unwrap())
}

fn bench_handle(c: &mut Criterion) {
    bench_handle_with(c, 1_000);
}

/// The same requests with a million users in the store (issue 9). Seeding takes about
/// 15 s and 2 GB; `SCIMKIT_BENCH_SKIP_1M=1` skips it.
fn bench_handle_1m(c: &mut Criterion) {
    if std::env::var_os("SCIMKIT_BENCH_SKIP_1M").is_none() {
        bench_handle_with(c, 1_000_000);
    }
}

fn bench_handle_with(c: &mut Criterion, n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (server, id, user) = setup(&rt, n);
    let get_uri = format!("/scim/v2/Users/{id}");
    let mut g = c.benchmark_group(format!("users_{n}"));
    if n == 1_000 {
        g.bench_function("serialize_user_serde_json", |b| {
            b.iter(|| serde_json::to_vec(black_box(&user)).unwrap())
        });
    }
    // Building the request is the host framework's cost, not scimkit's: it is done in
    // the untimed setup of `iter_batched`.
    let run = |r| ready(server.handle(r));
    g.bench_function("handle_get_by_id", |b| {
        b.iter_batched(
            || request("GET", &get_uri, Vec::new()),
            run,
            BatchSize::SmallInput,
        )
    });
    let filter_uri = format!(
        "/scim/v2/Users?filter=userName%20eq%20%22user{}%40example.com%22",
        n / 3
    );
    g.bench_function("handle_filter_user_name_eq", |b| {
        b.iter_batched(
            || request("GET", &filter_uri, Vec::new()),
            run,
            BatchSize::SmallInput,
        )
    });
    g.bench_function("handle_list_page_100", |b| {
        let uri = "/scim/v2/Users?startIndex=101&count=100";
        b.iter_batched(
            || request("GET", uri, Vec::new()),
            run,
            BatchSize::SmallInput,
        )
    });
    // Projected responses (`attributes`), as IdPs ask for a user's or a page's few
    // attributes they reconcile.
    const PROJECTED: &str = "attributes=userName,name.givenName,emails.value,active";
    let projected_get_uri = format!("{get_uri}?{PROJECTED}");
    g.bench_function("handle_get_by_id_projected", |b| {
        b.iter_batched(
            || request("GET", &projected_get_uri, Vec::new()),
            run,
            BatchSize::SmallInput,
        )
    });
    g.bench_function("handle_list_page_100_projected", |b| {
        let uri = format!("/scim/v2/Users?startIndex=101&count=100&{PROJECTED}");
        b.iter_batched(
            || request("GET", &uri, Vec::new()),
            run,
            BatchSize::SmallInput,
        )
    });
    // PUT and PATCH alternate between two bodies so that every request writes.
    let mut put_bodies = [typical_user(n / 2), typical_user(n / 2)];
    put_bodies[1]["title"] = json!("Senior Tour Guide");
    let put_bodies = put_bodies.map(|b| serde_json::to_vec(&b).unwrap());
    let mut flip = 0usize;
    // Sorting reads every user's sort key: measured with 1,000 users only.
    if n == 1_000 {
        let sorted_uri = "/scim/v2/Users?sortBy=name.familyName&sortOrder=descending&count=10";
        g.bench_function("handle_list_sorted_by_family_name", |b| {
            b.iter(|| run(request("GET", sorted_uri, Vec::new())))
        });
    }
    g.bench_function("handle_put", |b| {
        b.iter_batched(
            || {
                flip += 1;
                request("PUT", &get_uri, put_bodies[flip % 2].clone())
            },
            run,
            BatchSize::SmallInput,
        )
    });
    let patch_bodies = ["Senior", "Junior"].map(|t| {
        serde_json::to_vec(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": format!("{t}@example.com")},
                {"op": "Replace", "path": "name.familyName", "value": t},
                {"op": "Replace", "path": "active", "value": "True"}
            ]
        }))
        .unwrap()
    });
    g.bench_function("handle_patch_entra_three_ops", |b| {
        b.iter_batched(
            || {
                flip += 1;
                request("PATCH", &get_uri, patch_bodies[flip % 2].clone())
            },
            run,
            BatchSize::SmallInput,
        )
    });
    let mut i = n;
    g.bench_function("handle_post", |b| {
        b.iter_batched(
            || {
                i += 1;
                request(
                    "POST",
                    "/scim/v2/Users",
                    serde_json::to_vec(&typical_user(i)).unwrap(),
                )
            },
            run,
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_filter(c: &mut Criterion) {
    let f = r#"userName eq "bjensen@example.com" and (emails[type eq "work" and value co "@example.com"] or not (title pr)) and meta.lastModified gt "2024-01-01T00:00:00Z""#;
    c.bench_function("filter_parse", |b| {
        b.iter(|| scimkit::filter::parse(black_box(f)).unwrap())
    });
    let parsed = scimkit::filter::parse(f).unwrap();
    let user = typical_user(1);
    c.bench_function("filter_matches_value", |b| {
        b.iter(|| parsed.matches_value(black_box(&user)))
    });
}

fn bench_patch(c: &mut Criterion) {
    let compat = scimkit::Compatibility::default();
    let user = scimkit::resource::input::user_from_value(
        typical_user(7),
        &compat,
        scimkit::schema::SchemaSet::core(),
    )
    .unwrap();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updated@example.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Updated"},
            {"op": "Replace", "path": "active", "value": "False"}
        ]
    });
    let req = scimkit::patch::PatchRequest::from_value(body, &compat).unwrap();
    c.bench_function("patch_apply_entra_three_ops", |b| {
        b.iter(|| req.apply(black_box(&user), &compat).unwrap())
    });
}

/// RFC 9865: a cursor page deep in 100,000 users costs what the first page costs.
fn bench_cursor_depth(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = std::sync::Arc::new(MemoryUserStore::new());
    let ctx = scimkit::RequestContext::new(Principal::new("bench", "k"), "setup");
    let compat = scimkit::Compatibility::default();
    rt.block_on(async {
        for i in 0..100_000 {
            let mut u = scimkit::resource::input::user_from_value(
                typical_user(i),
                &compat,
                scimkit::schema::SchemaSet::core(),
            )
            .unwrap();
            u.id = Some(format!("id-{i:06}").into());
            u.meta = Some(scimkit::Meta::new("User", chrono::Utc::now()));
            scimkit::UserStore::create(&*store, &ctx, u).await.unwrap();
        }
    });
    let server = ScimServer::builder()
        .shared_store(store)
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new("bench", "k")))
        .build()
        .unwrap();
    let page = |uri: String| -> serde_json::Value {
        let resp = ready(server.handle(request("GET", &uri, Vec::new())));
        serde_json::from_slice(resp.body()).unwrap()
    };
    // Walk to page 1,000 once to get its cursor.
    let mut cursor = String::new();
    for _ in 0..999 {
        let v = page(format!("/scim/v2/Users?count=100&cursor={cursor}"));
        cursor = v["nextCursor"].as_str().unwrap().to_owned();
    }
    let mut g = c.benchmark_group("cursor_100k_users");
    let first = "/scim/v2/Users?count=100&cursor=".to_owned();
    let deep = format!("/scim/v2/Users?count=100&cursor={cursor}");
    let run = |r| ready(server.handle(r));
    g.bench_function("page_1", |b| {
        b.iter_batched(
            || request("GET", &first, Vec::new()),
            run,
            BatchSize::SmallInput,
        )
    });
    g.bench_function("page_1000", |b| {
        b.iter_batched(
            || request("GET", &deep, Vec::new()),
            run,
            BatchSize::SmallInput,
        )
    });
    let index_deep = "/scim/v2/Users?count=100&startIndex=99901".to_owned();
    g.bench_function("index_page_1000", |b| {
        b.iter_batched(
            || request("GET", &index_deep, Vec::new()),
            run,
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_handle,
    bench_handle_1m,
    bench_filter,
    bench_patch,
    bench_cursor_depth
);
criterion_main!(benches);
