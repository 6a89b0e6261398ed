//! A raw HTTP/1.1 client for the integration tests over real sockets: it sends bytes as
//! given (a chunked body in the chunks chosen), so that what a framework adapter reads is
//! exactly what was sent.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Sends `head` (request line and headers, without the blank line) and then each of
/// `chunks` as it is, on one connection that closes after the response.
pub async fn send(addr: std::net::SocketAddr, head: &str, chunks: &[&[u8]]) -> Reply {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let head = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks {
        conn.write_all(chunk).await.unwrap();
        conn.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (status, headers, body) = response_parts(&raw);
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The status, headers (names lower-cased) and body of the raw HTTP/1.1 response `raw`.
pub fn response_parts(raw: &str) -> (u16, Vec<(String, String)>, &str) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}

pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// The bytes of one chunk of a chunked body.
pub fn chunk(part: &[u8]) -> Vec<u8> {
    let mut c = format!("{:x}\r\n", part.len()).into_bytes();
    c.extend_from_slice(part);
    c.extend_from_slice(b"\r\n");
    c
}

/// The API key of the framework-adapter tests (`service.rs`, `actix.rs`).
pub const KEY: &str = "adapter-test-key";

/// A minimal user to create.
pub const USER: &str =
    r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}"#;

/// The head of a `POST` of `len` bytes of SCIM JSON to `path` with [`KEY`].
pub fn post_head(path: &str, len: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {len}"
    )
}

/// The server an adapter test mounts: base path `/scim/v2`, `store`, bodies up to
/// `max_body` bytes, [`KEY`] for tenant `acme`.
#[cfg(feature = "testing")]
pub fn adapter_server(
    store: std::sync::Arc<scimkit::testing::faults::FaultyStore<scimkit::MemoryUserStore>>,
    max_body: usize,
) -> scimkit::ScimServer {
    scimkit::ScimServer::builder()
        .base_path("/scim/v2")
        .shared_store(store)
        .max_body_bytes(max_body)
        .authenticator(
            scimkit::StaticKeyAuthenticator::new()
                .with_key(KEY, scimkit::Principal::new("acme", "k1")),
        )
        .build()
        .unwrap()
}

/// The contract of a framework adapter (`ScimService`, `scimkit::actix::respond`), checked
/// the same way against each over real HTTP: a body over the limit is refused as a SCIM 413
/// with a request id, before the store (`store` is the adapter's, its limit 64 bytes).
#[cfg(feature = "testing")]
pub async fn assert_a_body_over_the_limit_is_a_scim_413(
    addr: std::net::SocketAddr,
    store: &scimkit::testing::faults::FaultyStore<scimkit::MemoryUserStore>,
) {
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
    assert_eq!(
        store.calls(scimkit::testing::faults::Op::Create),
        0,
        "nothing reached the store"
    );
}

/// The adapter's contract: a create whose store panics (set up by the caller) is a SCIM 500
/// naming the client's request id `id`, and the next create is served.
pub async fn assert_a_panic_is_a_scim_500_naming_the_request_and_the_server_goes_on(
    addr: std::net::SocketAddr,
    id: &str,
) {
    let head = format!(
        "{}\r\nX-Request-Id: {id}",
        post_head("/scim/v2/Users", USER.len())
    );
    let reply = send(addr, &head, &[USER.as_bytes()]).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.header("x-request-id"), Some(id));
    assert_eq!(reply.json()["status"], "500");
    assert!(reply.body.contains(id), "{}", reply.body);
    let again = send(
        addr,
        &post_head("/scim/v2/Users", USER.len()),
        &[USER.as_bytes()],
    )
    .await;
    assert_eq!(again.status, 201, "{}", again.body);
}

/// The adapter's contract: headers pass both ways (request id, content type, `Location`,
/// `ETag` out; `If-Match` in) and a chunked body sent in two chunks is read whole.
pub async fn assert_headers_pass_both_ways_and_a_chunked_body_is_read_whole(
    addr: std::net::SocketAddr,
) {
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
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(reply.json()["meta"]["version"], etag.as_str());
    // A request header reaches the server: a stale If-Match is refused.
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let put = format!(
        "{}\r\nIf-Match: W/\"999\"",
        post_head(&format!("/scim/v2/Users/{id}"), USER.len())
    )
    .replacen("POST", "PUT", 1);
    let refused = send(addr, &put, &[USER.as_bytes()]).await;
    assert_eq!(refused.status, 412, "{}", refused.body);
}
