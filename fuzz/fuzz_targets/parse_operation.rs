//! Fuzzes the parse stage of the request pipeline on its own: route and parse
//! (`ScimServer::parse_operation`), the pure function from a request to the operation it
//! asks for, on the structured requests of the `handle` target (`handle_input.rs`).
//!
//! For every request the `http` crate accepts:
//!
//! - parsing never panics, and parses the same request to the same operation (or the same
//!   error) every time: it depends on nothing but the request and the configuration;
//! - a refusal is the client's (4xx) or names what the server does not offer (501), never
//!   a 500;
//! - parsing happens before the store: a request that parsing refuses, sent with valid
//!   credentials through `ScimServer::handle` on a server whose store panics when
//!   called, gets the same status and never reaches the store.
//!
//! Run from `fuzz/`: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_operation corpus/parse_operation seeds/handle`
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Shared with `handle`; this target uses less of it (one tenant, no kept users).
#[allow(dead_code)]
mod handle_input;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use handle_input::{Input, KEY_A, ready};
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use scimkit::{
    ListPage, ListQuery, Principal, RequestContext, ScimServer, StaticKeyAuthenticator, StoreError,
    User, UserStore,
};

/// A store that must never be called: parsing does not reach the store, and the harness
/// only sends requests that parsing refused through the whole pipeline.
struct Unreachable;

#[async_trait]
impl UserStore for Unreachable {
    async fn create(&self, _: &RequestContext, _: User) -> Result<Arc<User>, StoreError> {
        panic!("the store was called for a request that parsing refused")
    }
    async fn get(&self, _: &RequestContext, _: &str) -> Result<Option<Arc<User>>, StoreError> {
        panic!("the store was called for a request that parsing refused")
    }
    async fn replace(
        &self,
        _: &RequestContext,
        _: User,
        _: Option<&str>,
    ) -> Result<Arc<User>, StoreError> {
        panic!("the store was called for a request that parsing refused")
    }
    async fn delete(&self, _: &RequestContext, _: &str, _: Option<&str>) -> Result<(), StoreError> {
        panic!("the store was called for a request that parsing refused")
    }
    async fn list(
        &self,
        _: &RequestContext,
        _: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        panic!("the store was called for a request that parsing refused")
    }
}

fn server() -> &'static ScimServer {
    static SERVER: OnceLock<ScimServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        ScimServer::builder()
            .store(Unreachable)
            .authenticator(
                StaticKeyAuthenticator::new().with_key(KEY_A, Principal::new("tenant-a", "key-a")),
            )
            .build()
            .expect("a valid server")
    })
}

/// The request of `input`, always with tenant A's valid credentials; `None` when the
/// `http` crate refuses a part of it.
fn build(input: &Input<'_>) -> Option<http::Request<Vec<u8>>> {
    let known = ["2819c223-7f76-453a-919d-413861904646".to_owned()];
    let authorization = format!("Bearer {KEY_A}");
    input.to_request(&known, "W/\"1\"", Some(authorization.as_bytes()))
}

fuzz_target!(|input: Input<'_>| {
    let Some(req) = build(&input) else {
        return;
    };
    let server = server();
    let parsed = server.parse_operation(&req);
    assert_eq!(
        parsed,
        server.parse_operation(&req),
        "parsing the same request twice gave two answers"
    );
    let Err(refused) = parsed else {
        return;
    };
    let status = refused.status();
    assert!(
        status.is_client_error() || status == StatusCode::NOT_IMPLEMENTED,
        "parsing refused with {status}: {refused:?}"
    );
    let resp = ready(server.handle(req));
    assert_eq!(
        resp.status(),
        status,
        "handle answered otherwise than parsing refused ({refused:?}): {}",
        String::from_utf8_lossy(resp.body())
    );
});
