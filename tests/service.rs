//! `ScimService` (feature `tower`) mounted in axum, over real HTTP on loopback: nested and
//! un-nested, the body limit, a panicking store, headers both ways, a streamed body.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use scimkit::MemoryUserStore;
use scimkit::testing::faults::{Fault, FaultyStore, Op};
use tokio::net::TcpListener;

mod common;
use common::raw_http::{
    KEY, USER, adapter_server, assert_a_body_over_the_limit_is_a_scim_413,
    assert_a_panic_is_a_scim_500_naming_the_request_and_the_server_goes_on,
    assert_headers_pass_both_ways_and_a_chunked_body_is_read_whole, post_head, send,
};

/// Serves `app` on a loopback port; returns its address.
async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn nested_under_its_base_path_with_nest_service_it_serves_and_locates_users() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    let app =
        axum::Router::new().nest_service("/scim/v2", adapter_server(store, 1 << 20).into_service());
    let addr = serve(app).await;
    let created = send(
        addr,
        &post_head("/scim/v2/Users", USER.len()),
        &[USER.as_bytes()],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap().to_owned();
    assert!(
        location.starts_with(&format!("http://{addr}/scim/v2/Users/")),
        "{location}"
    );
    let path = location.trim_start_matches(&format!("http://{addr}"));
    let got = send(
        addr,
        &format!("GET {path} HTTP/1.1\r\nAuthorization: Bearer {KEY}"),
        &[],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json()["userName"], "bjensen");
    assert_eq!(got.json()["meta"]["location"], location.as_str());
}

#[tokio::test]
async fn un_nested_as_the_fallback_it_serves_full_paths_and_names_its_base_path_elsewhere() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    let app = axum::Router::new().fallback_service(adapter_server(store, 1 << 20).into_service());
    let addr = serve(app).await;
    let auth = format!("Authorization: Bearer {KEY}");
    let list = send(addr, &format!("GET /scim/v2/Users HTTP/1.1\r\n{auth}"), &[]).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let wrong = send(addr, &format!("GET /api/Users HTTP/1.1\r\n{auth}"), &[]).await;
    assert_eq!(wrong.status, 404);
    let detail = wrong.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("\"/scim/v2\""), "{detail}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_scim_413_with_the_request_id() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    let app = axum::Router::new()
        .nest_service("/scim/v2", adapter_server(store.clone(), 64).into_service());
    let addr = serve(app).await;
    assert_a_body_over_the_limit_is_a_scim_413(addr, &store).await;
}

#[tokio::test]
async fn a_panicking_store_is_a_scim_500_naming_the_request_and_the_service_goes_on() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    store.once(Op::Create, Fault::Panic);
    let app =
        axum::Router::new().nest_service("/scim/v2", adapter_server(store, 1 << 20).into_service());
    let addr = serve(app).await;
    assert_a_panic_is_a_scim_500_naming_the_request_and_the_server_goes_on(addr, "trace-42").await;
}

#[tokio::test]
async fn headers_pass_both_ways_and_a_streamed_chunked_body_is_read_whole() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    let app =
        axum::Router::new().nest_service("/scim/v2", adapter_server(store, 1 << 20).into_service());
    let addr = serve(app).await;
    assert_headers_pass_both_ways_and_a_chunked_body_is_read_whole(addr).await;
}
