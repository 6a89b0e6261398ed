//! Criterion benchmarks of the request pipeline on `MemoryUserStore`.
//!
//! `cargo bench --bench handle`; results and method are recorded in BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
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
                user = Some(
                    scimkit::resource::input::user_from_value(v, &Default::default()).unwrap(),
                );
            }
        }
    });
    (server, id, user.unwrap())
}

fn bench_handle(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let n = 1_000;
    let (server, id, user) = setup(&rt, n);
    let get_uri = format!("/scim/v2/Users/{id}");
    let mut g = c.benchmark_group("users_1000");
    g.bench_function("serialize_user_serde_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&user)).unwrap())
    });
    g.bench_function("handle_get_by_id", |b| {
        b.iter(|| rt.block_on(server.handle(request("GET", black_box(&get_uri), Vec::new()))))
    });
    let filter_uri = format!(
        "/scim/v2/Users?filter=userName%20eq%20%22user{}%40example.com%22",
        n / 3
    );
    g.bench_function("handle_filter_user_name_eq", |b| {
        b.iter(|| rt.block_on(server.handle(request("GET", black_box(&filter_uri), Vec::new()))))
    });
    g.bench_function("handle_list_page_100", |b| {
        b.iter(|| {
            rt.block_on(server.handle(request(
                "GET",
                "/scim/v2/Users?startIndex=101&count=100",
                Vec::new(),
            )))
        })
    });
    let put_body = serde_json::to_vec(&typical_user(n / 2)).unwrap();
    g.bench_function("handle_put", |b| {
        b.iter(|| rt.block_on(server.handle(request("PUT", &get_uri, put_body.clone()))))
    });
    let mut i = n;
    g.bench_function("handle_post", |b| {
        b.iter(|| {
            i += 1;
            let body = serde_json::to_vec(&typical_user(i)).unwrap();
            rt.block_on(server.handle(request("POST", "/scim/v2/Users", body)))
        })
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

criterion_group!(benches, bench_handle, bench_filter);
criterion_main!(benches);
