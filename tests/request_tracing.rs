//! Each request is a `scim_request` span with its request id, tenant, key id, operation
//! and status; a 5xx is logged at ERROR, a 4xx at the level the host chooses.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use scimkit::testing::faults::{Fault, FaultyStore, Op};
use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator};

mod common;
use common::Captured;

/// Runs `requests` (method, path, X-Request-Id) through a server whose 4xx are logged at
/// `client_errors`, under a subscriber that keeps WARN and above; returns what it wrote.
fn logged(client_errors: tracing::Level, requests: &[(&str, &str, &str)]) -> String {
    let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
    store.always(Op::List, Fault::Fail);
    let server = ScimServer::builder()
        .shared_store(store)
        .client_errors_logged_at(client_errors)
        .authenticator(StaticKeyAuthenticator::new().with_key("k", Principal::new("acme", "key-9")))
        .build()
        .unwrap();
    let out = Captured::default();
    tracing::subscriber::with_default(out.subscriber(tracing::Level::WARN), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (method, path, id) in requests {
            let req = http::Request::builder()
                .method(*method)
                .uri(*path)
                .header("Authorization", "Bearer k")
                .header("X-Request-Id", *id)
                .body(Vec::new())
                .unwrap();
            rt.block_on(server.handle(req));
        }
    });
    out.text()
}

#[test]
fn a_failed_request_is_logged_at_error_with_its_request_id_tenant_key_and_operation() {
    let log = logged(
        tracing::Level::DEBUG,
        &[("GET", "/scim/v2/Users", "req-500")],
    );
    let line = log
        .lines()
        .find(|l| l.contains("req-500") && l.contains("scim request failed"))
        .expect(&log);
    assert!(line.contains("ERROR"), "{line}");
    for field in [
        "request_id=\"req-500\"",
        "tenant=\"acme\"",
        "key_id=\"key-9\"",
        "operation=\"list_users\"",
        "status=500",
    ] {
        assert!(line.contains(field), "{field}: {line}");
    }
}

#[test]
fn a_refused_request_is_logged_at_the_level_the_host_chose() {
    let requests = [("GET", "/scim/v2/Users/missing", "req-404")];
    let quiet = logged(tracing::Level::DEBUG, &requests);
    assert!(
        !quiet.contains("req-404"),
        "a 4xx at DEBUG is below WARN: {quiet}"
    );
    let loud = logged(tracing::Level::WARN, &requests);
    let line = loud
        .lines()
        .find(|l| l.contains("req-404") && l.contains("scim request refused"))
        .expect(&loud);
    assert!(
        line.contains("WARN") && line.contains("status=404"),
        "{line}"
    );
    assert!(line.contains("get_user"), "{line}");
}
