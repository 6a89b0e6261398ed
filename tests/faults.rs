//! A failing, slow or panicking store, through `ScimServer::handle` (issue 10), with
//! `scimkit::testing::faults::FaultyStore`.
//!
//! The behaviour these tests pin down:
//!
//! - **A failing store** (an error before the write) gives a 500 SCIM error whose detail
//!   is generic and carries the request id (also sent as `X-Request-Id`); the cause is
//!   logged through `tracing` with the same request id, and never sent to the client.
//!   Nothing is written.
//! - **An error after the write** (the store changed but reported a failure) is reported
//!   as that same 500 and is *not* retried by the server: it cannot know whether the
//!   write happened, and repeating a change is the client's decision. The write stands;
//!   a client retry converges without applying anything twice: a repeated PUT or PATCH
//!   finds the user already in the requested state and answers 200 without writing, a
//!   repeated POST gets 409 `uniqueness` (one user, not two), a repeated DELETE 404.
//! - **A lost race** (`VersionMismatch` from `replace`) without `If-Match` is retried on
//!   a fresh read `max_write_retries` times (so `1 + max_write_retries` attempts), then
//!   answered 409 without a `scimType`; with `If-Match` it is a 412 at once.
//! - **A slow store** delays only the requests that use it; a host timeout that drops
//!   the request before the write leaves nothing behind.
//! - **A panicking store**: `handle` does not catch panics; the panic propagates to the
//!   caller (the task polling `handle`). The store and the server remain usable. The
//!   axum example's integration survives: hyper runs each connection in its own task,
//!   so the panicking request's connection is closed without a response and every other
//!   request is served. Spawning `handle` per request turns the panic into a SCIM 500.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::Captured;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::IntoResponse;
use common::{KEY, OTHER_TENANT_KEY, Reply, okta_user, send_with};
use scimkit::testing::faults::{Fault, FaultyStore, Op};
use scimkit::{MemoryUserStore, Principal, ScimError, ScimServer, StaticKeyAuthenticator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Fixture {
    memory: Arc<MemoryUserStore>,
    faulty: Arc<FaultyStore<MemoryUserStore>>,
    server: ScimServer,
}

impl Fixture {
    fn new(max_write_retries: usize) -> Self {
        let memory = Arc::new(MemoryUserStore::new());
        let faulty = Arc::new(FaultyStore::shared(memory.clone()));
        let server = ScimServer::builder()
            .base_path("/scim/v2")
            .shared_store(faulty.clone())
            .authenticator(
                StaticKeyAuthenticator::new()
                    .with_key(KEY, Principal::new("acme", "key-1"))
                    .with_key(OTHER_TENANT_KEY, Principal::new("globex", "key-2")),
            )
            .max_write_retries(max_write_retries)
            .build()
            .unwrap();
        Self {
            memory,
            faulty,
            server,
        }
    }

    /// Both tenants, byte for byte (passwords included).
    fn fingerprint(&self) -> String {
        ["acme", "globex"]
            .iter()
            .map(|t| {
                let users = self.memory.snapshot(t);
                let passwords: Vec<Option<&str>> = users
                    .iter()
                    .map(|u| u.password.as_ref().map(|p| p.expose()))
                    .collect();
                format!(
                    "{t}: {} {passwords:?}",
                    serde_json::to_string(&users).unwrap()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A request with the acme key and these extra headers.
    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let auth = format!("Bearer {KEY}");
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        send_with(&self.server, method, uri, body, &all).await
    }

    /// Creates a user (no faults set) and returns its id.
    async fn user(&self, name: &str) -> String {
        let r = self
            .call("POST", "/scim/v2/Users", Some(okta_user(name)), &[])
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        r.json["id"].as_str().unwrap().to_owned()
    }

    fn stored(&self, id: &str) -> Option<scimkit::User> {
        self.memory
            .snapshot("acme")
            .into_iter()
            .find(|u| u.id.as_deref() == Some(id))
    }
}

fn patch(display_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": display_name}]
    })
}

/// Asserts a generic 500 for `request_id` that says nothing about the cause.
fn assert_generic_500(r: &Reply, request_id: &str) {
    r.assert_error(500, None);
    assert_eq!(
        r.json["detail"],
        format!("internal server error (request id {request_id})")
    );
    assert_eq!(r.header("x-request-id"), Some(request_id));
    let body = r.json.to_string();
    for leak in ["injected", "backend", "fault", "store"] {
        assert!(!body.contains(leak), "{leak:?} leaked into {body}");
    }
}

/// What is sent, the operation made to fail, method, URI, body and an extra header.
type FailureCase<'a> = (
    &'a str,
    Op,
    &'a str,
    String,
    Option<Value>,
    Option<(&'a str, &'a str)>,
);

#[tokio::test]
async fn a_failing_store_gives_a_generic_500_with_the_request_id_and_logs_the_cause() {
    let log = Captured::default();
    let _guard = log.install(tracing::Level::TRACE);
    let fx = Fixture::new(32);
    let id = fx.user("bjensen@example.com").await;
    let user_uri = format!("/scim/v2/Users/{id}");
    let version = fx.stored(&id).unwrap().meta.unwrap().version.unwrap();
    let cases: Vec<FailureCase> = vec![
        (
            "create",
            Op::Create,
            "POST",
            "/scim/v2/Users".into(),
            Some(okta_user("new@example.com")),
            None,
        ),
        ("get", Op::Get, "GET", user_uri.clone(), None, None),
        (
            "list",
            Op::List,
            "GET",
            "/scim/v2/Users?filter=userName%20pr".into(),
            None,
            None,
        ),
        (
            "search",
            Op::List,
            "POST",
            "/scim/v2/.search".into(),
            Some(json!({})),
            None,
        ),
        (
            "put: the read",
            Op::Get,
            "PUT",
            user_uri.clone(),
            Some(okta_user("renamed@example.com")),
            None,
        ),
        (
            "put: the write",
            Op::Replace,
            "PUT",
            user_uri.clone(),
            Some(okta_user("renamed@example.com")),
            None,
        ),
        (
            "patch: the read",
            Op::Get,
            "PATCH",
            user_uri.clone(),
            Some(patch("Changed")),
            None,
        ),
        (
            "patch: the write",
            Op::Replace,
            "PATCH",
            user_uri.clone(),
            Some(patch("Changed")),
            None,
        ),
        (
            "patch with If-Match: the write",
            Op::Replace,
            "PATCH",
            user_uri.clone(),
            Some(patch("Changed")),
            Some(("if-match", version.as_str())),
        ),
        ("delete", Op::Delete, "DELETE", user_uri.clone(), None, None),
        (
            "delete with If-Match: the read",
            Op::Get,
            "DELETE",
            user_uri.clone(),
            None,
            Some(("if-match", version.as_str())),
        ),
    ];
    for (i, (what, op, method, uri, body, header)) in cases.into_iter().enumerate() {
        let before = fx.fingerprint();
        let calls = fx.faulty.calls(op);
        fx.faulty.once(op, Fault::Fail);
        let request_id = format!("req-{i}");
        let mut headers = vec![("x-request-id", request_id.as_str())];
        headers.extend(header);
        let r = fx.call(method, &uri, body, &headers).await;
        assert_generic_500(&r, &request_id);
        assert!(fx.faulty.calls(op) > calls, "{what}: the fault was reached");
        assert_eq!(fx.fingerprint(), before, "{what}: nothing was written");
        let line = log
            .text()
            .lines()
            .find(|l| {
                l.contains(&format!("request_id={request_id} ")) && l.contains("user store failure")
            })
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{what}: no log line for {request_id}:\n{}", log.text()));
        assert!(line.contains("ERROR"), "{line}");
        assert!(line.contains("tenant=acme"), "{line}");
        assert!(
            line.contains(&format!(
                "injected store fault: {op} failed before the call"
            )),
            "{what}: the cause is logged: {line}"
        );
    }
    // Without X-Request-Id the server makes one up, and uses it in the detail too.
    fx.faulty.once(Op::List, Fault::Fail);
    let r = fx.call("GET", "/scim/v2/Users", None, &[]).await;
    let generated = r.header("x-request-id").unwrap().to_owned();
    assert_generic_500(&r, &generated);
    assert!(log.text().contains(&format!("request_id={generated} ")));
    // The faults were one-shot: the store works again.
    assert_eq!(fx.call("GET", &user_uri, None, &[]).await.status, 200);
}

#[tokio::test]
async fn a_store_failing_every_call_changes_nothing() {
    let fx = Fixture::new(32);
    let id = fx.user("bjensen@example.com").await;
    let uri = format!("/scim/v2/Users/{id}");
    let before = fx.fingerprint();
    fx.faulty.set_hook(|_, _| Fault::Fail);
    for (method, uri, body) in [
        (
            "POST",
            "/scim/v2/Users",
            Some(okta_user("other@example.com")),
        ),
        ("PUT", uri.as_str(), Some(okta_user("renamed@example.com"))),
        ("PATCH", uri.as_str(), Some(patch("Changed"))),
        ("DELETE", uri.as_str(), None),
        ("GET", uri.as_str(), None),
        ("GET", "/scim/v2/Users", None),
    ] {
        let r = fx.call(method, uri, body, &[]).await;
        r.assert_error(500, None);
    }
    assert_eq!(fx.fingerprint(), before);
    // Requests that need no store are unaffected.
    let r = fx
        .call("GET", "/scim/v2/ServiceProviderConfig", None, &[])
        .await;
    assert_eq!(r.status, 200);
    fx.faulty.clear();
    assert_eq!(fx.call("GET", &uri, None, &[]).await.status, 200);
}

#[tokio::test]
async fn an_error_after_the_write_is_a_500_the_write_stands_and_a_retry_converges() {
    let fx = Fixture::new(32);

    // PATCH: 500, the change is stored once, not retried by the server.
    let id = fx.user("patch@example.com").await;
    let uri = format!("/scim/v2/Users/{id}");
    let v0 = fx.stored(&id).unwrap().meta.unwrap().version;
    fx.faulty.once(Op::Replace, Fault::FailAfter);
    let replaces = fx.faulty.calls(Op::Replace);
    let r = fx
        .call(
            "PATCH",
            &uri,
            Some(patch("Changed")),
            &[("x-request-id", "after-1")],
        )
        .await;
    assert_generic_500(&r, "after-1");
    assert_eq!(
        fx.faulty.calls(Op::Replace),
        replaces + 1,
        "no retry after an unknown outcome"
    );
    let stored = fx.stored(&id).unwrap();
    assert_eq!(
        stored.display_name.as_deref(),
        Some("Changed"),
        "the write stands"
    );
    let v1 = stored.meta.unwrap().version;
    assert_ne!(v1, v0);
    // The client's retry finds the change made: 200, and nothing is written again.
    let r = fx.call("PATCH", &uri, Some(patch("Changed")), &[]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["displayName"], "Changed");
    assert_eq!(
        fx.faulty.calls(Op::Replace),
        replaces + 1,
        "the retry does not write"
    );
    assert_eq!(fx.stored(&id).unwrap().meta.unwrap().version, v1);

    // PUT: the same.
    fx.faulty.once(Op::Replace, Fault::FailAfter);
    let mut body = okta_user("patch@example.com");
    body["displayName"] = json!("Put");
    let r = fx
        .call(
            "PUT",
            &uri,
            Some(body.clone()),
            &[("x-request-id", "after-2")],
        )
        .await;
    assert_generic_500(&r, "after-2");
    assert_eq!(fx.stored(&id).unwrap().display_name.as_deref(), Some("Put"));
    let v2 = fx.stored(&id).unwrap().meta.unwrap().version;
    let replaces = fx.faulty.calls(Op::Replace);
    let r = fx.call("PUT", &uri, Some(body), &[]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        fx.faulty.calls(Op::Replace),
        replaces,
        "the retry does not write"
    );
    assert_eq!(fx.stored(&id).unwrap().meta.unwrap().version, v2);

    // POST: the user exists; the retry is a 409 uniqueness, and there is one user.
    fx.faulty.once(Op::Create, Fault::FailAfter);
    let r = fx
        .call(
            "POST",
            "/scim/v2/Users",
            Some(okta_user("post@example.com")),
            &[("x-request-id", "after-3")],
        )
        .await;
    assert_generic_500(&r, "after-3");
    let r = fx
        .call(
            "POST",
            "/scim/v2/Users",
            Some(okta_user("post@example.com")),
            &[],
        )
        .await;
    r.assert_error(409, Some("uniqueness"));
    let r = fx
        .call(
            "GET",
            "/scim/v2/Users?filter=userName%20eq%20%22post@example.com%22",
            None,
            &[],
        )
        .await;
    assert_eq!(r.json["totalResults"], 1);

    // DELETE: the user is gone; the retry is a 404.
    fx.faulty.once(Op::Delete, Fault::FailAfter);
    let r = fx
        .call("DELETE", &uri, None, &[("x-request-id", "after-4")])
        .await;
    assert_generic_500(&r, "after-4");
    assert!(fx.stored(&id).is_none());
    fx.call("DELETE", &uri, None, &[])
        .await
        .assert_error(404, None);

    // Reads: a 500, nothing changed.
    let before = fx.fingerprint();
    fx.faulty.once(Op::List, Fault::FailAfter);
    fx.call("GET", "/scim/v2/Users", None, &[])
        .await
        .assert_error(500, None);
    assert_eq!(fx.fingerprint(), before);
}

#[tokio::test]
async fn lost_races_are_retried_max_write_retries_times_then_409() {
    const RETRIES: usize = 3;
    let fx = Fixture::new(RETRIES);
    let id = fx.user("race@example.com").await;
    let uri = format!("/scim/v2/Users/{id}");
    let mut put_body = okta_user("race@example.com");
    put_body["displayName"] = json!("Put");

    // Every compare-and-swap lost: 1 + RETRIES attempts, each on a fresh read, then 409.
    fx.faulty.always(Op::Replace, Fault::VersionMismatch);
    for (method, body) in [("PATCH", patch("Changed")), ("PUT", put_body.clone())] {
        let before = fx.fingerprint();
        let (gets, replaces) = (fx.faulty.calls(Op::Get), fx.faulty.calls(Op::Replace));
        let r = fx.call(method, &uri, Some(body), &[]).await;
        r.assert_error(409, None);
        assert_eq!(
            fx.faulty.calls(Op::Replace) - replaces,
            RETRIES + 1,
            "{method}"
        );
        assert_eq!(
            fx.faulty.calls(Op::Get) - gets,
            RETRIES + 1,
            "{method}: a fresh read each time"
        );
        assert_eq!(fx.fingerprint(), before, "{method}");
    }
    fx.faulty.clear();

    // Exactly as many lost races as attempts: still 409.
    fx.faulty
        .times(Op::Replace, Fault::VersionMismatch, RETRIES + 1);
    fx.call("PATCH", &uri, Some(patch("Changed")), &[])
        .await
        .assert_error(409, None);
    assert_eq!(
        fx.stored(&id).unwrap().display_name.as_deref(),
        Some("Test User")
    );

    // One fewer: the last attempt wins, and the change is written once.
    let v0 = fx.stored(&id).unwrap().meta.unwrap().version.unwrap();
    fx.faulty
        .times(Op::Replace, Fault::VersionMismatch, RETRIES);
    let replaces = fx.faulty.calls(Op::Replace);
    let r = fx.call("PATCH", &uri, Some(patch("Changed")), &[]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(fx.faulty.calls(Op::Replace) - replaces, RETRIES + 1);
    let stored = fx.stored(&id).unwrap();
    assert_eq!(stored.display_name.as_deref(), Some("Changed"));
    let v1 = stored.meta.unwrap().version.unwrap();
    assert_ne!(v1, v0);
    assert_eq!(r.header("etag"), Some(v1.as_str()));

    // With If-Match the client decides: a lost race is a 412 at once, not retried.
    fx.faulty.always(Op::Replace, Fault::VersionMismatch);
    let replaces = fx.faulty.calls(Op::Replace);
    let r = fx
        .call("PATCH", &uri, Some(patch("Again")), &[("if-match", &v1)])
        .await;
    r.assert_error(412, None);
    assert_eq!(fx.faulty.calls(Op::Replace) - replaces, 1);
    fx.faulty.clear();
    fx.faulty.once(Op::Delete, Fault::VersionMismatch);
    fx.call("DELETE", &uri, None, &[("if-match", &v1)])
        .await
        .assert_error(412, None);
    assert!(fx.stored(&id).is_some());

    // No retries configured: one attempt.
    let fx = Fixture::new(0);
    let id = fx.user("once@example.com").await;
    fx.faulty.once(Op::Replace, Fault::VersionMismatch);
    let r = fx
        .call(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(patch("x")),
            &[],
        )
        .await;
    r.assert_error(409, None);
    assert_eq!(fx.faulty.calls(Op::Replace), 1);
}

#[tokio::test]
async fn a_slow_store_delays_only_its_requests_and_a_timeout_writes_nothing() {
    let fx = Fixture::new(32);
    let id = fx.user("slow@example.com").await;
    let auth = format!("Bearer {OTHER_TENANT_KEY}");
    send_with(
        &fx.server,
        "POST",
        "/scim/v2/Users",
        Some(okta_user("g@example.com")),
        &[("authorization", &auth)],
    )
    .await;

    // globex's store calls take 400 ms; acme's are not delayed. Both run on this one
    // thread (a current-thread runtime): the delay does not block it.
    const DELAY: Duration = Duration::from_millis(400);
    fx.faulty.set_hook(|_, ctx| {
        if &*ctx.tenant == "globex" {
            Fault::Delay(DELAY)
        } else {
            Fault::None
        }
    });
    let start = Instant::now();
    let slow = async {
        let r = send_with(
            &fx.server,
            "GET",
            "/scim/v2/Users",
            None,
            &[("authorization", &auth)],
        )
        .await;
        (r.status, Instant::now())
    };
    let fast = async {
        let r = fx
            .call("GET", &format!("/scim/v2/Users/{id}"), None, &[])
            .await;
        (r.status, Instant::now())
    };
    let ((slow_status, slow_done), (fast_status, fast_done)) = tokio::join!(slow, fast);
    assert_eq!((slow_status, fast_status), (200, 200));
    assert!(slow_done - start >= DELAY);
    assert!(
        fast_done < slow_done,
        "acme was not held up by globex's slow store"
    );
    fx.faulty.clear();

    // The host gives up before the slow write: the request is dropped, nothing written.
    fx.faulty.always(Op::Replace, Fault::Delay(DELAY));
    let before = fx.fingerprint();
    let req = http::Request::patch(format!("/scim/v2/Users/{id}"))
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/scim+json")
        .body(serde_json::to_vec(&patch("Too late")).unwrap())
        .unwrap();
    let timed = tokio::time::timeout(Duration::from_millis(50), fx.server.handle(req)).await;
    assert!(timed.is_err(), "the request was cut short");
    tokio::time::sleep(DELAY + Duration::from_millis(100)).await;
    assert_eq!(fx.fingerprint(), before);
    fx.faulty.clear();
    let r = fx
        .call(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(patch("In time")),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_panicking_store_propagates_out_of_handle_and_leaves_the_server_usable() {
    let fx = Fixture::new(32);
    let id = fx.user("panic@example.com").await;
    let uri = format!("/scim/v2/Users/{id}");
    for (op, method, body) in [
        (Op::Get, "GET", None),
        (Op::Replace, "PATCH", Some(patch("Changed"))),
        (Op::Delete, "DELETE", None),
    ] {
        let before = fx.fingerprint();
        fx.faulty.once(op, Fault::Panic);
        let mut req = http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", format!("Bearer {KEY}"));
        if body.is_some() {
            req = req.header("content-type", "application/scim+json");
        }
        let req = req
            .body(
                body.map(|b| serde_json::to_vec(&b).unwrap())
                    .unwrap_or_default(),
            )
            .unwrap();
        let server = fx.server.clone();
        let joined = tokio::spawn(async move { server.handle(req).await }).await;
        let err = joined.expect_err("handle does not catch the panic");
        assert!(err.is_panic());
        let payload = err.into_panic();
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap();
        assert!(
            message.contains(&format!("injected store panic: {op}")),
            "{message}"
        );
        assert_eq!(fx.fingerprint(), before, "{method}: nothing written");
        // The same server (and store) serves the next request.
        assert_eq!(fx.call("GET", &uri, None, &[]).await.status, 200);
    }
}

/// The integration of `examples/server/main.rs`, verbatim: read the body under the limit,
/// call `handle`, convert back.
async fn example_scim(
    State(server): State<ScimServer>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, server.max_body_bytes()).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let e = ScimError::PayloadTooLarge(format!(
                "request body is larger than {} bytes",
                server.max_body_bytes()
            ));
            return e.to_response().map(Body::from).into_response();
        }
    };
    let response = server.handle(http::Request::from_parts(parts, bytes)).await;
    response.map(Body::from).into_response()
}

/// The same, with `handle` spawned per request so that a panic becomes a SCIM 500.
async fn isolated_scim(
    State(server): State<ScimServer>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, server.max_body_bytes()).await else {
        let e = ScimError::PayloadTooLarge("request body too large".into());
        return e.to_response().map(Body::from).into_response();
    };
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_owned();
    let task =
        tokio::spawn(async move { server.handle(http::Request::from_parts(parts, bytes)).await });
    match task.await {
        Ok(response) => response.map(Body::from).into_response(),
        Err(e) => {
            tracing::error!(request_id = %request_id, panic = e.is_panic(), "the SCIM handler failed");
            ScimError::Internal { request_id }
                .to_response()
                .map(Body::from)
                .into_response()
        }
    }
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// One HTTP/1.1 GET on a new connection; everything the server sent back (nothing if it
/// closed or reset the connection without answering).
async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY}\r\nX-Request-Id: over-http\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
        .await
        .expect("the server answers or closes the connection");
    if read.is_err() {
        buf.clear(); // a reset connection: no answer
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_example_survives_a_panicking_store() {
    let fx = Fixture::new(32);
    let id = fx.user("axum@example.com").await;
    let path = format!("/scim/v2/Users/{id}");
    let addr = serve(
        axum::Router::new()
            .fallback(example_scim)
            .with_state(fx.server.clone()),
    )
    .await;

    assert!(http_get(addr, &path).await.starts_with("HTTP/1.1 200"));
    fx.faulty.once(Op::Get, Fault::Panic);
    let answer = http_get(addr, &path).await;
    assert_eq!(
        answer, "",
        "the panicking request's connection is closed without an answer"
    );
    // The server is still up and serving, on new connections, concurrently.
    let (a, b, c) = tokio::join!(
        http_get(addr, &path),
        http_get(addr, "/scim/v2/Users"),
        http_get(addr, &path)
    );
    for answer in [a, b, c] {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawning_handle_per_request_turns_a_store_panic_into_a_scim_500() {
    let fx = Fixture::new(32);
    let id = fx.user("isolated@example.com").await;
    let path = format!("/scim/v2/Users/{id}");
    let addr = serve(
        axum::Router::new()
            .fallback(isolated_scim)
            .with_state(fx.server.clone()),
    )
    .await;

    fx.faulty.once(Op::Get, Fault::Panic);
    let answer = http_get(addr, &path).await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let json: Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["status"], "500");
    assert_eq!(
        json["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(
        json["detail"],
        "internal server error (request id over-http)"
    );
    assert!(http_get(addr, &path).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_faulty_store_without_faults_passes_the_conformance_suite() {
    scimkit::testing::check_user_store(|| FaultyStore::new(MemoryUserStore::new())).await;
}
