//! `scimkit::actix::respond` (feature `actix`) in a real actix-web server on loopback: the
//! body limit, a panicking store, headers both ways, a streamed (chunked) body.
#![cfg(feature = "actix")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use scimkit::testing::faults::{Fault, FaultyStore, Op};
use scimkit::{MemoryUserStore, ScimServer};

mod common;
use common::raw_http::{
    adapter_server, assert_a_body_over_the_limit_is_a_scim_413,
    assert_a_panic_is_a_scim_500_naming_the_request_and_the_server_goes_on,
    assert_headers_pass_both_ways_and_a_chunked_body_is_read_whole,
};

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
    assert_a_body_over_the_limit_is_a_scim_413(addr, &store).await;
}

#[tokio::test]
async fn actix_a_panicking_store_is_a_scim_500_naming_the_request_and_the_server_goes_on() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    store.once(Op::Create, Fault::Panic);
    let addr = serve(store, 1 << 20);
    assert_a_panic_is_a_scim_500_naming_the_request_and_the_server_goes_on(addr, "trace-7").await;
}

#[tokio::test]
async fn actix_headers_pass_both_ways_and_a_chunked_body_is_read_whole() {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    let addr = serve(store, 1 << 20);
    assert_headers_pass_both_ways_and_a_chunked_body_is_read_whole(addr).await;
}
