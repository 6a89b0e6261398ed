//! `scimkit::actix::respond` (feature `actix`) in a real actix-web server on loopback: the
//! body limit, a panicking store, headers both ways, a streamed (chunked) body.
#![cfg(feature = "actix")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use scimkit::testing::faults::{Fault, FaultyStore, Op};
use scimkit::{MemoryUserStore, ScimServer};

mod common;
use common::raw_http::{KEY, USER, adapter_server, chunk, post_head, send};

async fn scim(
    req: HttpRequest,
    payload: web::Payload,
    server: web::Data<ScimServer>,
) -> HttpResponse {
    scimkit::actix::respond(&server, &req, payload).await
}

/// An actix-web server (on a thread with its own actix runtime) answering everything with
/// scimkit over `store`; returns its address.
fn serve(store: Arc<FaultyStore<MemoryUserStore>>, max_body: usize) -> std::net::SocketAddr {
    let server = adapter_server(store, max_body);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = web::Data::new(server);
            HttpServer::new(move || {
                App::new()
                    .app_data(server.clone())
                    .default_service(web::to(scim))
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    addr
}

#[tokio::test]
async fn actix_a_body_over_the_limit_is_a_scim_413_with_the_request_id() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    let addr = serve(store.clone(), 64);
    let reply = send(
        addr,
        &post_head("/scim/v2/Users", USER.len()),
        &[USER.as_bytes()],
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/scim+json"));
    assert_eq!(reply.json()["status"], "413");
    assert!(reply.header("x-request-id").is_some_and(|v| !v.is_empty()));
    assert_eq!(store.calls(Op::Create), 0, "nothing reached the store");
}

#[tokio::test]
async fn actix_a_panicking_store_is_a_scim_500_naming_the_request_and_the_server_goes_on() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    store.once(Op::Create, Fault::Panic);
    let addr = serve(store, 1 << 20);
    let head = format!(
        "{}\r\nX-Request-Id: trace-7",
        post_head("/scim/v2/Users", USER.len())
    );
    let reply = send(addr, &head, &[USER.as_bytes()]).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.header("x-request-id"), Some("trace-7"));
    assert!(reply.body.contains("trace-7"), "{}", reply.body);
    let again = send(
        addr,
        &post_head("/scim/v2/Users", USER.len()),
        &[USER.as_bytes()],
    )
    .await;
    assert_eq!(again.status, 201, "{}", again.body);
}

#[tokio::test]
async fn actix_headers_pass_both_ways_and_a_chunked_body_is_read_whole() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    let addr = serve(store, 1 << 20);
    let (a, b) = USER.as_bytes().split_at(USER.len() / 2);
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\nX-Request-Id: from-client"
    );
    let reply = send(addr, &head, &[&chunk(a), &chunk(b), b"0\r\n\r\n"]).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("x-request-id"), Some("from-client"));
    assert_eq!(reply.header("content-type"), Some("application/scim+json"));
    let location = reply.header("location").unwrap().to_owned();
    assert!(
        location.starts_with(&format!("http://{addr}/scim/v2/Users/")),
        "{location}"
    );
    let etag = reply.header("etag").unwrap().to_owned();
    assert_eq!(reply.json()["meta"]["version"], etag.as_str());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let put = format!(
        "{}\r\nIf-Match: W/\"999\"",
        post_head(&format!("/scim/v2/Users/{id}"), USER.len())
    )
    .replacen("POST", "PUT", 1);
    let refused = send(addr, &put, &[USER.as_bytes()]).await;
    assert_eq!(refused.status, 412, "{}", refused.body);
}
