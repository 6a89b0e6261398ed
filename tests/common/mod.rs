//! Helpers shared by the integration tests: a server on the memory store and a tiny client
//! that goes through `ScimServer::handle`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod raw_http;

use http::{Request, Response};
use std::sync::Arc;

use scimkit::{
    ListPage, ListQuery, MemoryUserStore, Principal, RequestContext, ScimServer,
    StaticKeyAuthenticator, StoreError, User, UserStore,
};
use serde_json::Value;

pub const KEY: &str = "test-key-acme";
pub const OTHER_TENANT_KEY: &str = "test-key-globex";

pub fn server() -> ScimServer {
    ScimServer::builder()
        .base_path("/scim/v2")
        .store(MemoryUserStore::new())
        .authenticator(
            StaticKeyAuthenticator::new()
                .with_key(KEY, Principal::new("acme", "key-1"))
                .with_key(OTHER_TENANT_KEY, Principal::new("globex", "key-2")),
        )
        .max_body_bytes(64 * 1024)
        .build()
        .unwrap()
}

/// [`server`] serving the Group resource too, on a memory group store over its users.
pub fn server_with_groups() -> ScimServer {
    let users = Arc::new(MemoryUserStore::new());
    ScimServer::builder()
        .base_path("/scim/v2")
        .shared_store(users.clone())
        .groups(scimkit::MemoryGroupStore::new(users))
        .authenticator(
            StaticKeyAuthenticator::new()
                .with_key(KEY, Principal::new("acme", "key-1"))
                .with_key(OTHER_TENANT_KEY, Principal::new("globex", "key-2")),
        )
        .max_body_bytes(256 * 1024)
        .build()
        .unwrap()
}

/// A response with its body parsed as JSON (Null when empty).
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts this is a SCIM error with `status` and, when given, `scimType`.
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.json);
        assert_eq!(
            self.json["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(
            self.json["status"],
            status.to_string(),
            "status must be a string"
        );
        match scim_type {
            Some(t) => assert_eq!(self.json["scimType"], t, "{}", self.json),
            None => assert!(self.json.get("scimType").is_none(), "{}", self.json),
        }
        assert_eq!(self.header("content-type"), Some("application/scim+json"));
    }
}

fn reply(resp: Response<Vec<u8>>) -> Reply {
    let json = if resp.body().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(resp.body()).expect("response body is JSON")
    };
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        json,
    }
}

/// Sends a request with the default key, a Host header and, with a body, a SCIM content type.
pub async fn send(server: &ScimServer, method: &str, uri: &str, body: Option<Value>) -> Reply {
    send_with(
        server,
        method,
        uri,
        body,
        &[("authorization", &format!("Bearer {KEY}"))],
    )
    .await
}

/// Sends a request with the given headers (and Host, and a content type when there is a body).
pub async fn send_with(
    server: &ScimServer,
    method: &str,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "scim.example.com");
    if body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        b = b.header("content-type", "application/scim+json");
    }
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    reply(server.handle(b.body(bytes).unwrap()).await)
}

/// Sends raw bytes with explicit headers (no defaults but Host).
pub async fn send_raw(
    server: &ScimServer,
    method: &str,
    uri: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Reply {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "scim.example.com");
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    reply(server.handle(b.body(body.to_vec()).unwrap()).await)
}

/// Creates a user and returns its JSON.
pub async fn create(server: &ScimServer, body: Value) -> Value {
    let r = send(server, "POST", "/scim/v2/Users", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json
}

pub fn okta_user(user_name: &str) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": format!("00u{}", user_name.len()),
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// A store that delegates to the memory store but does not offer native cursors.
pub struct OffsetOnly(pub MemoryUserStore);

#[async_trait::async_trait]
impl UserStore for OffsetOnly {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        self.0.create(ctx, user).await
    }
    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        self.0.get(ctx, id).await
    }
    async fn replace(
        &self,
        ctx: &RequestContext,
        user: User,
        v: Option<&str>,
    ) -> Result<Arc<User>, StoreError> {
        self.0.replace(ctx, user, v).await
    }
    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        v: Option<&str>,
    ) -> Result<(), StoreError> {
        self.0.delete(ctx, id, v).await
    }
    async fn list(
        &self,
        ctx: &RequestContext,
        q: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        assert!(
            q.cursor.is_none(),
            "a store without native cursors never sees one"
        );
        self.0.list(ctx, q).await
    }
}

/// An example binary (`target/.../examples/NAME`), brought up to date with `cargo build
/// --example NAME` once per test process (a no-op when it is): `cargo test` compiles the
/// examples but does not leave their binaries there, so one built before the last change
/// would otherwise be run as it was.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/TEST-HASH → target/debug
    let target_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = target_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "--example", name])
            .status()
            .unwrap();
        assert!(status.success(), "building the example {name} failed");
        built.push(name.to_owned());
    }
    bin
}

/// What `tracing` writes, kept for a test to read.
#[derive(Clone, Default)]
pub struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// A plain-text subscriber writing here, up to `level`.
    pub fn subscriber(&self, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// [`Captured::subscriber`] as this thread's default, until the guard drops.
    pub fn install(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.subscriber(level))
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A fresh PostgreSQL database on the server of `url`, dropped when this is: for tests
/// that run example servers on a database of their own, which no earlier run (or another
/// build's migrations) has touched. Created and dropped on a runtime of its own: use it
/// from plain `#[test]`s.
pub struct ScratchDatabase {
    admin: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl ScratchDatabase {
    /// Creates it on the server of `url` (a `postgres://` URL naming any database).
    pub fn create(url: &str) -> Self {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        let name = format!("scimkit_scratch_{}", uuid::Uuid::new_v4().simple());
        let with_query = |db: &str| {
            if query.is_empty() {
                format!("{server}/{db}")
            } else {
                format!("{server}/{db}?{query}")
            }
        };
        let this = Self {
            admin: url.to_owned(),
            url: with_query(&name),
            name,
        };
        this.run(&format!("CREATE DATABASE {}", this.name));
        this
    }

    fn run(&self, sql: &str) {
        use sqlx::Connection;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&self.admin)
                .await
                .expect("the admin connection");
            sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
            conn.close().await.ok();
        });
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        self.run(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}
