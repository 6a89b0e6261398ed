//! Fuzzes the whole request pipeline: `ScimServer::handle` on a structured request
//! (method, route with fuzzed segments and percent-escapes, query string, headers, body).
//!
//! One server on a `MemoryUserStore` serves every iteration, so state carries over (users
//! created, changed and deleted by earlier inputs); the harness keeps a few users of
//! tenant A that `Segment::Known` names, re-creating any that an input deletes, and
//! deletes the oldest users that inputs created once there are more than
//! `MAX_CREATED`. For every request:
//!
//! - `handle` never panics and never answers 500;
//! - a 204 or 304 has an empty body; any other status has a JSON body with
//!   `Content-Type: application/scim+json`, and from 400 up that body is a SCIM Error
//!   (`schemas` is the Error URN, `status` the status as a string);
//! - no response body has a `password` member;
//! - a request without valid credentials gets 401;
//! - tenant B never gets a 2xx, 304 or 412 on a tenant-A user;
//! - the response echoes a printable `X-Request-Id` of at most 128 bytes, and has one
//!   otherwise.
//!
//! Because state carries over, a crash may depend on earlier inputs; replaying the crash
//! file alone reproduces most of them (the harness's own users are created the same way
//! in every process).
//!
//! Run from `fuzz/`: `RUSTC_BOOTSTRAP=1 cargo fuzz run handle corpus/handle seeds/handle`
//! Set `SCIMKIT_FUZZ_TRACE=1` to print each request line, status and response body.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod handle_input;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use handle_input::{Auth, BASE, Input, KEY_A, KEY_B, ready};
use http::{HeaderValue, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use scimkit::schema::ERROR_SCHEMA;
use scimkit::{MemoryUserStore, Principal, SCIM_CONTENT_TYPE, ScimServer, StaticKeyAuthenticator};
use serde_json::Value;

/// How many tenant-A users the harness keeps for `Segment::Known`.
const KNOWN: usize = 4;
/// How many users created by inputs are kept before the oldest are deleted.
const MAX_CREATED: usize = 256;

struct Harness {
    server: ScimServer,
    /// The ids of the users `Segment::Known` names (tenant A).
    known: Mutex<Vec<String>>,
    /// Users created by inputs, oldest first: (key, id).
    created: Mutex<VecDeque<(&'static str, String)>>,
    /// The last `ETag` any response carried.
    last_etag: Mutex<String>,
    /// Makes the harness's user names unique.
    counter: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn request(method: &str, path: &str, key: &str, body: Vec<u8>) -> http::Request<Vec<u8>> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "scim.example.com")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, SCIM_CONTENT_TYPE)
        .body(body)
        .expect("a valid request")
}

impl Harness {
    fn new() -> Self {
        let server = ScimServer::builder()
            .store(MemoryUserStore::new())
            .authenticator(
                StaticKeyAuthenticator::new()
                    .with_key(KEY_A, Principal::new("tenant-a", "key-a"))
                    .with_key(KEY_B, Principal::new("tenant-b", "key-b")),
            )
            .build()
            .expect("a valid server");
        let harness = Self {
            server,
            known: Mutex::new(Vec::new()),
            created: Mutex::new(VecDeque::new()),
            last_etag: Mutex::new(String::from("W/\"1\"")),
            counter: AtomicU64::new(0),
        };
        let ids: Vec<String> = (0..KNOWN).map(|_| harness.create_known()).collect();
        *lock(&harness.known) = ids;
        harness
    }

    /// Creates a realistic tenant-A user and returns its id.
    fn create_known(&self) -> String {
        for _ in 0..8 {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let body = serde_json::json!({
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ],
                "userName": format!("fuzz-harness-{n}@example.com"),
                "externalId": format!("00u{n:08}"),
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "displayName": "Barbara Jensen",
                "emails": [
                    {"value": format!("fuzz-harness-{n}@example.com"), "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
                "active": true,
                "password": "t1meMa$heen",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": format!("{n}"),
                    "department": "Tour Operations",
                    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
                }
            });
            let body = serde_json::to_vec(&body).expect("JSON");
            let resp =
                ready(
                    self.server
                        .handle(request("POST", &format!("{BASE}/Users"), KEY_A, body)),
                );
            if resp.status() == StatusCode::CREATED
                && let Some(id) = created_id(resp.body())
            {
                return id;
            }
        }
        panic!("the harness could not create its tenant-A user");
    }

    fn delete(&self, key: &str, id: &str) -> StatusCode {
        let path = format!("{BASE}/Users/{}", escape_segment(id));
        ready(
            self.server
                .handle(request("DELETE", &path, key, Vec::new())),
        )
        .status()
    }

    /// Records a user an input created; deletes the oldest beyond `MAX_CREATED`.
    fn record_created(&self, key: &'static str, id: String) {
        let oldest = {
            let mut created = lock(&self.created);
            created.push_back((key, id));
            if created.len() > MAX_CREATED {
                created.pop_front()
            } else {
                None
            }
        };
        if let Some((key, id)) = oldest {
            let mut status = self.delete(key, &id);
            if status == StatusCode::NOT_FOUND {
                // Created with raw credentials of the other tenant.
                status = self.delete(if key == KEY_A { KEY_B } else { KEY_A }, &id);
            }
            assert!(
                status == StatusCode::NO_CONTENT || status == StatusCode::NOT_FOUND,
                "deleting created user {id:?} gave {status}"
            );
        }
    }
}

/// Percent-encodes everything but unreserved characters (ids are server-made, but PUT and
/// PATCH cannot change them, so this is only belt and braces).
fn escape_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn created_id(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("id")?.as_str().map(str::to_owned)
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::new)
}

/// Whether to print each request and response (`SCIMKIT_FUZZ_TRACE=1`), to check what the
/// seeds and a crash input do.
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("SCIMKIT_FUZZ_TRACE").is_some())
}

/// Whether `v` has an object member named `password` (in any letter case) at any depth.
fn has_password_member(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("password") || has_password_member(v)),
        Value::Array(items) => items.iter().any(has_password_member),
        _ => false,
    }
}

/// Builds the request; `None` when the `http` crate refuses a part of it.
fn build(input: &Input<'_>, h: &Harness) -> Option<http::Request<Vec<u8>>> {
    let auth = match &input.auth {
        Auth::TenantA => Some(format!("Bearer {KEY_A}").into_bytes()),
        Auth::TenantB => Some(format!("Bearer {KEY_B}").into_bytes()),
        Auth::TenantALowerScheme => Some(format!("bearer {KEY_A}").into_bytes()),
        Auth::WrongKey => Some(b"Bearer fuzz-key-nobody-has".to_vec()),
        Auth::Basic => Some(b"Basic ZnV6ejpmdXp6LWtleS10ZW5hbnQtYQ==".to_vec()),
        Auth::Missing => None,
        Auth::Raw(b) => Some(b.0.to_vec()),
    };
    let last_etag = lock(&h.last_etag).clone();
    input.to_request(&lock(&h.known), &last_etag, auth.as_deref())
}

fuzz_target!(|input: Input<'_>| {
    let h = harness();
    let Some(req) = build(&input, h) else {
        return;
    };
    let method = req.method().clone();
    let uri = req.uri().clone();
    let sent_request_id = req.headers().get("x-request-id").cloned();
    let resp = ready(h.server.handle(req));
    let status = resp.status();
    let body = resp.body();
    if trace() {
        eprintln!(
            "{method} {uri} -> {status} {}",
            String::from_utf8_lossy(body)
        );
    }

    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "500: {:?}",
        String::from_utf8_lossy(body)
    );

    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        assert!(body.is_empty(), "{status} with a body");
    } else {
        assert_eq!(
            resp.headers()
                .get(header::CONTENT_TYPE)
                .map(HeaderValue::as_bytes),
            Some(SCIM_CONTENT_TYPE.as_bytes()),
            "{status}: wrong Content-Type"
        );
        let json: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => panic!(
                "{status}: body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(body)
            ),
        };
        assert!(
            !has_password_member(&json),
            "{status}: body has a password: {json}"
        );
        if status.as_u16() >= 400 {
            assert_eq!(
                json["schemas"],
                serde_json::json!([ERROR_SCHEMA]),
                "{status}: not a SCIM Error: {json}"
            );
            assert_eq!(
                json["status"].as_str(),
                Some(status.as_str()),
                "{status}: wrong status in the SCIM Error: {json}"
            );
        }
    }

    if matches!(input.auth, Auth::WrongKey | Auth::Basic | Auth::Missing) {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "no valid credentials");
    }

    if matches!(input.auth, Auth::TenantB) && input.path.known_index().is_some() {
        assert!(
            !(status.is_success()
                || status == StatusCode::NOT_MODIFIED
                || status == StatusCode::PRECONDITION_FAILED),
            "tenant B got {status} on a tenant-A user"
        );
    }

    let echoed = resp.headers().get("x-request-id");
    match sent_request_id.filter(|v| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= 128 && b.iter().all(u8::is_ascii_graphic)
    }) {
        Some(sent) => assert_eq!(echoed, Some(&sent), "X-Request-Id not echoed"),
        None => assert!(
            echoed.is_some_and(|v| !v.is_empty()),
            "no X-Request-Id on the response"
        ),
    }

    if let Some(etag) = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        etag.clone_into(&mut lock(&h.last_etag));
    }

    // Keep the harness's own users and bound the store.
    if method == http::Method::POST
        && status == StatusCode::CREATED
        && let Some(id) = created_id(body)
    {
        let key = if matches!(input.auth, Auth::TenantB) {
            KEY_B
        } else {
            KEY_A
        };
        h.record_created(key, id);
    }
    if method == http::Method::DELETE
        && status == StatusCode::NO_CONTENT
        && let Some(i) = input.path.known_index()
    {
        let replacement = h.create_known();
        let mut known = lock(&h.known);
        let slot = usize::from(i) % known.len();
        known[slot] = replacement;
    }
});
