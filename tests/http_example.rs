//! Over real HTTP: starts the axum example server (`examples/server/main.rs`) — and the
//! actix-web one (`examples/actix.rs`) — on a free loopback port and drives the Okta
//! lifecycle through a socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const KEY: &str = "http-test-key";

struct Server {
    child: Child,
    addr: String,
    /// The bearer key the server accepts.
    key: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    launch(memory_command(), KEY)
}

/// The axum example on a memory store with the test key, on a free loopback port.
fn memory_command() -> Command {
    let mut cmd = Command::new(common::example_binary("server"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        KEY,
        "--database",
        "memory",
    ])
    .env_remove("SCIMKIT_LISTEN")
    .env_remove("SCIMKIT_API_KEY")
    .env_remove("SCIMKIT_DATABASE_URL");
    cmd
}

fn start_actix() -> Server {
    let mut cmd = Command::new(common::example_binary("actix"));
    cmd.arg("127.0.0.1:0").env("SCIMKIT_API_KEY", KEY);
    launch(cmd, KEY)
}

/// Starts an example and reads the base URL it prints; `key` is the key it was given.
/// The axum example must not print a key it was given (only one it created).
fn launch(cmd: Command, key: &str) -> Server {
    let (mut server, printed) = launch_reading_key(cmd);
    // Neither example (axum or actix-web) prints an operator-supplied key.
    assert!(
        !printed.contains(key),
        "the server must not print an operator-supplied key: {printed}"
    );
    server.key = key.to_owned();
    server
}

/// Starts an example; returns it (with the key it printed, if any, as its key) and the
/// line it printed about the key.
fn launch_reading_key(mut cmd: Command) -> (Server, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut base = None;
    let mut key_line = None;
    for line in lines.by_ref().take(10) {
        let line = line.unwrap();
        if line.starts_with("API key") {
            key_line = Some(line);
            break;
        }
        if let Some(url) = line.strip_prefix("SCIM base URL: ") {
            base = Some(url.to_owned());
        }
    }
    // Keep draining stdout so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let key_line = key_line.expect("the server prints a line about the API key");
    let key = key_line
        .strip_prefix("API key (bearer token): ")
        .unwrap_or_default()
        .to_owned();
    let base = base.expect("the server prints its base URL");
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches("/scim/v2")
        .to_owned();
    (Server { child, addr, key }, key_line)
}

/// One HTTP/1.1 request with `Connection: close`; returns status, headers (lower-cased
/// names) and body.
fn http(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<&Value>,
    auth: bool,
) -> (u16, Vec<(String, String)>, Value) {
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    );
    if auth {
        req.push_str(&format!("Authorization: Bearer {}\r\n", server.key));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/scim+json\r\n");
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    // A server may answer (413) before reading all of an oversized body; the answer is
    // what is checked, so a failed write of the rest is not an error here.
    let _ = stream.write_all(&body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (status, headers, body) = common::raw_http::response_parts(&text);
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap()
    };
    (status, headers, json)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn okta_lifecycle_over_http_against_the_axum_example() {
    let server = start();
    let (status, headers, body) = http(&server, "GET", "/scim/v2/Users", None, false);
    assert_eq!(status, 401);
    assert!(
        header(&headers, "www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(body["status"], "401");

    let (status, _, body) = http(
        &server,
        "GET",
        "/scim/v2/Users?filter=userName+eq+%22ann%40example.com%22",
        None,
        true,
    );
    assert_eq!((status, body["totalResults"].as_u64()), (200, Some(0)));

    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann@example.com", "active": true, "password": "x"});
    let (status, headers, created) = http(&server, "POST", "/scim/v2/Users", Some(&user), true);
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/scim+json")
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        header(&headers, "location"),
        Some(format!("http://{}/scim/v2/Users/{id}", server.addr).as_str())
    );
    assert!(header(&headers, "etag").is_some());

    let (status, _, _) = http(
        &server,
        "POST",
        "/scim/v2/Users",
        Some(&json!({"userName": "ANN@example.com"})),
        true,
    );
    assert_eq!(status, 409);

    let mut deactivate = created.clone();
    deactivate["active"] = json!(false);
    let (status, _, updated) = http(
        &server,
        "PUT",
        &format!("/scim/v2/Users/{id}"),
        Some(&deactivate),
        true,
    );
    assert_eq!((status, &updated["active"]), (200, &json!(false)));

    let (status, _, found) = http(
        &server,
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22ANN%40EXAMPLE.COM%22",
        None,
        true,
    );
    assert_eq!(
        (status, found["Resources"][0]["active"].clone()),
        (200, json!(false))
    );

    let (status, _, _) = http(
        &server,
        "DELETE",
        &format!("/scim/v2/Users/{id}"),
        None,
        true,
    );
    assert_eq!(status, 204);
    let (status, _, _) = http(&server, "GET", &format!("/scim/v2/Users/{id}"), None, true);
    assert_eq!(status, 404);
}

#[test]
fn actix_example_serves_the_same_handler_over_http() {
    let server = start_actix();
    let (status, headers, _) = http(&server, "GET", "/scim/v2/Users", None, false);
    assert_eq!(status, 401);
    assert!(
        header(&headers, "www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let user = json!({"userName": "actix@example.com"});
    let (status, headers, created) = http(&server, "POST", "/scim/v2/Users", Some(&user), true);
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/scim+json")
    );
    let id = created["id"].as_str().unwrap();
    let (status, _, got) = http(&server, "GET", &format!("/scim/v2/Users/{id}"), None, true);
    assert_eq!(
        (status, &got["userName"]),
        (200, &json!("actix@example.com"))
    );
    let big = json!({"userName": "big", "displayName": "x".repeat(1024 * 1024 + 1024)});
    let (status, _, body) = http(&server, "POST", "/scim/v2/Users", Some(&big), true);
    assert_eq!((status, &body["status"]), (413, &json!("413")));
}

#[test]
fn oversized_body_over_http_is_413_scim_error() {
    let server = start();
    let big = json!({"userName": "big", "displayName": "x".repeat(1024 * 1024 + 1024)});
    let (status, headers, body) = http(&server, "POST", "/scim/v2/Users", Some(&big), true);
    assert_eq!(status, 413);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/scim+json")
    );
    assert_eq!(body["status"], "413");
}

/// Starts the axum example on `database` with the test key.
fn start_on(database: &str, tenant: &str, key: &str) -> Server {
    let mut cmd = Command::new(common::example_binary("server"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        key,
        "--database",
        database,
    ])
    .args(["--tenant", tenant])
    .env_remove("SCIMKIT_LISTEN")
    .env_remove("SCIMKIT_API_KEY")
    .env_remove("SCIMKIT_DATABASE_URL");
    launch(cmd, key)
}

/// Streams creates and PATCHes at the example server, SIGKILLs it mid-stream, restarts
/// it on the same database and checks that every acknowledged (2xx) change is there.
fn every_acknowledged_change_survives_sigkill(database: &str, tenant: &str, key: &str) {
    let mut server = start_on(database, tenant, key);
    let mut acknowledged: Vec<(String, String)> = Vec::new(); // (id, title)
    // The kill lands once the stream is under way (after 20 acknowledged changes), at a
    // moment the stream does not choose.
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let killer = {
        let pid = server.child.id();
        let progress = progress.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            while progress.load(std::sync::atomic::Ordering::Relaxed) < 20
                && started.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(37));
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        })
    };
    for i in 0..100_000 {
        let user = json!({"userName": format!("crash{i}@example.com")});
        let Some((status, _, created)) = try_http(&server, "POST", "/scim/v2/Users", Some(&user))
        else {
            break;
        };
        if status != 201 {
            break;
        }
        let id = created["id"].as_str().unwrap().to_owned();
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": format!("t{i}")}]});
        match try_http(
            &server,
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(&patch),
        ) {
            Some((200, _, _)) => {
                acknowledged.push((id, format!("t{i}")));
                progress.store(acknowledged.len(), std::sync::atomic::Ordering::Relaxed);
            }
            // Killed between the create and the PATCH: the create was acknowledged.
            _ => {
                acknowledged.push((id, String::new()));
                break;
            }
        }
    }
    killer.join().unwrap();
    let _ = server.child.wait();
    assert!(
        acknowledged.len() > 5,
        "the stream ran before the kill ({})",
        acknowledged.len()
    );

    let server = start_on(database, tenant, key);
    for (id, title) in &acknowledged {
        let (status, _, user) = http(&server, "GET", &format!("/scim/v2/Users/{id}"), None, true);
        assert_eq!(status, 200, "acknowledged user {id} survives the crash");
        if !title.is_empty() {
            assert_eq!(
                user["title"],
                json!(title),
                "acknowledged PATCH of {id} survives"
            );
        }
    }
    let (_, _, list) = http(&server, "GET", "/scim/v2/Users?count=0", None, true);
    let total = list["totalResults"].as_u64().unwrap() as usize;
    assert!(
        total == acknowledged.len() || total == acknowledged.len() + 1,
        "no lost or duplicated users: {total} stored, {} acknowledged (one more may have been \
         committed without its response)",
        acknowledged.len()
    );
}

/// Status, headers (lower-cased names) and JSON body of a response.
type Reply = (u16, Vec<(String, String)>, Value);

/// Like [`http`], but `None` when the server is gone (connection refused or reset).
fn try_http(server: &Server, method: &str, path: &str, body: Option<&Value>) -> Option<Reply> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        http(server, method, path, body, true)
    }));
    result.ok()
}

#[test]
fn sqlite_example_keeps_every_acknowledged_change_across_sigkill() {
    let dir = std::env::temp_dir().join(format!("scimkit-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("crash.db");
    every_acknowledged_change_survives_sigkill(db.to_str().unwrap(), "crash-test", KEY);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn postgres_example_keeps_every_acknowledged_change_across_sigkill() {
    let Some(url) = postgres_url() else { return };
    // A database of its own: no earlier run's schema (or another build's migrations).
    let scratch = common::ScratchDatabase::create(&url);
    let url = scratch.url.clone();
    // A tenant and a key of its own keep this run apart from every other one.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (tenant, key) = (format!("crash-{run}"), format!("pg-crash-{run}"));
    every_acknowledged_change_survives_sigkill(&url, &tenant, &key);
}

#[test]
fn events_of_committed_changes_survive_a_kill_before_delivery() {
    let dir = std::env::temp_dir().join(format!("scimkit-outbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("outbox.db");
    let db = db.to_str().unwrap();
    // First run: commit changes with delivery switched off, then SIGKILL.
    let mut cmd = Command::new(common::example_binary("server"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        KEY,
        "--database",
        db,
        "--no-events",
    ])
    .env_remove("SCIMKIT_LISTEN")
    .env_remove("SCIMKIT_API_KEY")
    .env_remove("SCIMKIT_DATABASE_URL");
    let mut server = launch(cmd, KEY);
    let user = json!({"userName": "outbox@example.com"});
    let (status, _, _) = http(&server, "POST", "/scim/v2/Users", Some(&user), true);
    assert_eq!(status, 201);
    server.child.kill().unwrap();
    let _ = server.child.wait();
    // Second run: the dispatcher finds the event in the outbox and delivers it (logged).
    let mut child = Command::new(common::example_binary("server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            KEY,
            "--database",
            db,
        ])
        .env_remove("SCIMKIT_LISTEN")
        .env_remove("SCIMKIT_API_KEY")
        .env_remove("SCIMKIT_DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("provisioning event") && line.contains("outbox@example.com") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let delivered = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let line = delivered.expect("the event committed before the kill is delivered after it");
    assert!(line.contains("UserCreated"), "{line}");
}

#[test]
fn two_example_servers_on_one_postgres_database_act_as_one() {
    let Some(url) = postgres_url() else { return };
    let scratch = common::ScratchDatabase::create(&url);
    let url = scratch.url.clone();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (tenant, key) = (format!("scale-{run}"), format!("pg-scale-{run}"));
    let a = start_on(&url, &tenant, &key);
    let b = start_on(&url, &tenant, &key);

    // Created through one, read, patched and deleted through the other.
    let user = json!({"userName": "replica@example.com"});
    let (status, _, created) = http(&a, "POST", "/scim/v2/Users", Some(&user), true);
    assert_eq!(status, 201);
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let (status, _, got) = http(&b, "GET", &uri, None, true);
    assert_eq!(
        (status, &got["userName"]),
        (200, &json!("replica@example.com"))
    );
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "via b"}]});
    let (status, _, _) = http(&b, "PATCH", &uri, Some(&patch), true);
    assert_eq!(status, 200);
    let (_, _, seen) = http(&a, "GET", &uri, None, true);
    assert_eq!(seen["title"], "via b");
    let (status, _, _) = http(&b, "DELETE", &uri, None, true);
    assert_eq!(status, 204);
    let (status, _, _) = http(&a, "GET", &uri, None, true);
    assert_eq!(status, 404);

    // Racing duplicate creates split across both replicas: exactly one 201.
    for round in 0..10 {
        let name = format!("race{round}@example.com");
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|i| {
                    let server = if i % 2 == 0 { &a } else { &b };
                    let body = json!({"userName": if i % 3 == 0 { name.to_uppercase() } else { name.clone() }});
                    s.spawn(move || http(server, "POST", "/scim/v2/Users", Some(&body), true).0)
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 409).count(),
            5,
            "{statuses:?}"
        );
    }
}

/// The PostgreSQL server to test against: `SCIMKIT_TEST_DATABASE_URL`, else the local
/// default when it answers; `None` (after saying so) when neither is there.
fn postgres_url() -> Option<String> {
    match std::env::var("SCIMKIT_TEST_DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if std::net::TcpStream::connect("127.0.0.1:5432").is_ok() => {
            Some("postgres://postgres@127.0.0.1:5432/test".into())
        }
        Err(_) => {
            eprintln!("skipped: no PostgreSQL on 127.0.0.1:5432");
            None
        }
    }
}

/// The example server on `database`, creating its own key (no `--api-key`).
fn start_creating_key(database: &str, tenant: &str) -> Server {
    let mut cmd = Command::new(common::example_binary("server"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--database",
        database,
        "--tenant",
        tenant,
    ])
    .env_remove("SCIMKIT_LISTEN")
    .env_remove("SCIMKIT_API_KEY")
    .env_remove("SCIMKIT_DATABASE_URL");
    launch_reading_key(cmd).0
}

/// Runs an admin command of the example server on `database`; returns its stdout.
fn admin_command(database: &str, args: &[&str]) -> String {
    let out = Command::new(common::example_binary("server"))
        .args(["--database", database])
        .args(args)
        .env_remove("SCIMKIT_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn temp_database(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("scimkit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("example.db").to_str().unwrap().to_owned();
    (dir, db)
}

#[test]
fn a_restart_keeps_the_account_admins_switch_off() {
    let (dir, db) = temp_database("switch");
    let server = start_on(&db, "switch-test", KEY);
    assert_eq!(http(&server, "GET", "/scim/v2/Users", None, true).0, 200);
    admin_command(&db, &["tenants", "disable", "switch-test"]);
    // The switch was changed by another process: the server's authentication cache sees
    // it within its bound (1 s by default).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while http(&server, "GET", "/scim/v2/Users", None, true).0 != 403 {
        assert!(
            std::time::Instant::now() < deadline,
            "the running server never saw the switch go off"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(server);
    let server = start_on(&db, "switch-test", KEY);
    assert_eq!(
        http(&server, "GET", "/scim/v2/Users", None, true).0,
        403,
        "the restart turned the admin's switch back on"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_start_replaces_the_key_the_previous_start_created() {
    let (dir, db) = temp_database("startkey");
    let first = start_creating_key(&db, "default");
    assert!(
        !first.key.is_empty(),
        "a fresh start prints a key it created"
    );
    assert_eq!(http(&first, "GET", "/scim/v2/Users", None, true).0, 200);
    let first_key = first.key.clone();
    drop(first);
    let mut second = start_creating_key(&db, "default");
    assert_ne!(second.key, first_key);
    assert_eq!(http(&second, "GET", "/scim/v2/Users", None, true).0, 200);
    // The first start's key no longer works: one live start key at a time.
    let second_key = std::mem::replace(&mut second.key, first_key);
    assert_eq!(http(&second, "GET", "/scim/v2/Users", None, true).0, 401);
    second.key = second_key;
    let listed = admin_command(&db, &["keys", "list", "--tenant", "default"]);
    let count = |status: &str| {
        listed
            .lines()
            .filter(|l| l.contains("created at start") && l.contains(status))
            .count()
    };
    assert_eq!((count(" live "), count(" revoked ")), (1, 1), "{listed}");
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One HTTP/1.1 request to `addr` from the local address `from` (any 127.x address on
/// Linux); returns the status and the whole response text.
fn http_from(from: &str, addr: &str, head: &str, body: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let mut stream = socket.connect(addr.parse().unwrap()).await.unwrap();
        let request = format!(
            "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text.split(' ').nth(1).unwrap().parse().unwrap();
        (status, text)
    })
}

#[test]
fn console_logins_are_limited_per_address_so_the_admin_elsewhere_gets_in() {
    if !cfg!(target_os = "linux") {
        return; // binding 127.0.0.2 needs Linux's whole 127/8 on loopback
    }
    const PASSWORD: &str = "the-admin-password-1234";
    let mut cmd = Command::new(common::example_binary("server"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        KEY,
        "--database",
        "memory",
    ])
    .args(["--admin-password", PASSWORD])
    .env_remove("SCIMKIT_LISTEN")
    .env_remove("SCIMKIT_API_KEY")
    .env_remove("SCIMKIT_DATABASE_URL")
    .env_remove("SCIMKIT_ADMIN_PASSWORD");
    let server = launch(cmd, KEY);
    let token = login_token(&server.addr);
    let login = |from: &str, password: &str| {
        let head = format!(
            "POST /admin/login HTTP/1.1\r\nCookie: scimkit_admin_login={token}\r\n\
             Content-Type: application/x-www-form-urlencoded"
        );
        http_from(
            from,
            &server.addr,
            &head,
            &format!("csrf={token}&password={password}"),
        )
        .0
    };
    // An attacker at 127.0.0.1 exhausts its own allowance...
    let statuses: Vec<u16> = (0..11).map(|_| login("127.0.0.1", "wrong")).collect();
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);
    assert_eq!(login("127.0.0.1", PASSWORD), 429);
    // ...while the admin at another address logs in.
    assert_eq!(login("127.0.0.2", PASSWORD), 303);
}

/// Starts the axum example on memory with the test key and `extra` arguments, and reads
/// its start lines up to the one naming the metrics URL; returns the server and that URL.
fn start_with_metrics(extra: &[&str]) -> (Server, String) {
    let mut child = memory_command()
        .args(extra)
        .env_remove("SCIMKIT_METRICS")
        .env_remove("SCIMKIT_METRICS_LISTEN")
        .env_remove("SCIMKIT_METRICS_TENANT_LABELS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut metrics) = (None, None);
    for line in lines.by_ref().take(20) {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("SCIM base URL: ") {
            base = Some(url.to_owned());
        }
        if let Some(url) = line.strip_prefix("Metrics (Prometheus): ") {
            metrics = Some(url.to_owned());
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let addr = base
        .expect("the server prints its base URL")
        .trim_start_matches("http://")
        .trim_end_matches("/scim/v2")
        .to_owned();
    let server = Server {
        child,
        addr,
        key: KEY.to_owned(),
    };
    (server, metrics.expect("the server prints its metrics URL"))
}

/// `GET url` (an `http://` URL) with `Connection: close`: status, headers (lower-cased
/// names) and the body as text.
fn get_text(url: &str) -> (u16, Vec<(String, String)>, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut head_lines = head.lines();
    let status = head_lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = head_lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status.parse().unwrap(), headers, body.to_owned())
}

/// The value of the sample of `name` whose labels include every one of `labels`.
fn sample(scrape: &str, name: &str, labels: &[&str]) -> Option<f64> {
    scrape
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_example_serves_prometheus_metrics_at_the_printed_metrics_url() {
    let (server, metrics_url) = start_with_metrics(&["--metrics"]);
    assert_eq!(metrics_url, format!("http://{}/metrics", server.addr));
    let (status, _, _) = http(&server, "GET", "/scim/v2/Users", None, true);
    assert_eq!(status, 200);
    let (status, _, _) = http(&server, "GET", "/scim/v2/Users", None, false);
    assert_eq!(status, 401);

    let (status, headers, scrape) = get_text(&metrics_url);
    assert_eq!(status, 200, "{scrape}");
    assert!(
        header(&headers, "content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{headers:?}"
    );
    let requests = "scimkit_requests_total";
    assert!(
        scrape.contains(&format!("# TYPE {requests} counter")),
        "{scrape}"
    );
    let ok = ["operation=\"list_users\"", "status=\"200\""];
    assert_eq!(sample(&scrape, requests, &ok), Some(1.0), "{scrape}");
    let refused = ["operation=\"list_users\"", "status=\"401\""];
    assert_eq!(sample(&scrape, requests, &refused), Some(1.0), "{scrape}");
    let missing = ["reason=\"missing\""];
    let auth = "scimkit_auth_refusals_total";
    assert_eq!(sample(&scrape, auth, &missing), Some(1.0), "{scrape}");
    // Latencies are a histogram with buckets, by operation.
    let latency = "scimkit_request_duration_seconds";
    assert!(
        scrape.contains(&format!("# TYPE {latency} histogram")),
        "{scrape}"
    );
    let count = format!("{latency}_count");
    assert_eq!(
        sample(&scrape, &count, &["operation=\"list_users\""]),
        Some(2.0),
        "{scrape}"
    );
    // No label carries the key.
    assert!(!scrape.contains(KEY), "{scrape}");
}

#[test]
fn metrics_listen_serves_metrics_on_an_address_of_their_own() {
    let (server, metrics_url) = start_with_metrics(&[
        "--metrics-listen",
        "127.0.0.1:0",
        "--metrics-tenant-labels",
        "5",
    ]);
    assert_ne!(metrics_url, format!("http://{}/metrics", server.addr));
    let (status, _, _) = http(&server, "GET", "/scim/v2/Users", None, true);
    assert_eq!(status, 200);
    let (status, _, scrape) = get_text(&metrics_url);
    assert_eq!(status, 200, "{scrape}");
    let labels = [
        "operation=\"list_users\"",
        "status=\"200\"",
        "tenant=\"default\"",
    ];
    assert_eq!(
        sample(&scrape, "scimkit_requests_total", &labels),
        Some(1.0),
        "{scrape}"
    );
    // The main listener does not serve them: `/metrics` there is no SCIM endpoint.
    let (status, _, _) = get_text(&format!("http://{}/metrics", server.addr));
    assert_ne!(status, 200);
}

/// The console login form's token (double-submitted as a cookie and a field), fetched
/// from 127.0.0.1.
fn login_token(addr: &str) -> String {
    let (status, page) = http_from("127.0.0.1", addr, "GET /admin/login HTTP/1.1", "");
    assert_eq!(status, 200);
    page.split("scimkit_admin_login=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned()
}

/// Logs in to the console of `server` (password `password`) from 127.0.0.1 and returns
/// the dashboard's HTML.
fn console_dashboard(server: &Server, password: &str) -> String {
    let token = login_token(&server.addr);
    let head = format!(
        "POST /admin/login HTTP/1.1\r\nCookie: scimkit_admin_login={token}\r\n\
         Content-Type: application/x-www-form-urlencoded"
    );
    let (status, reply) = http_from(
        "127.0.0.1",
        &server.addr,
        &head,
        &format!("csrf={token}&password={password}"),
    );
    assert_eq!(status, 303, "{reply}");
    let session = reply
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let (status, page) = http_from(
        "127.0.0.1",
        &server.addr,
        &format!("GET /admin HTTP/1.1\r\nCookie: {session}"),
        "",
    );
    assert_eq!(status, 200, "{page}");
    page
}

#[test]
fn the_example_serves_groups_with_the_groups_flag_and_the_console_lists_them() {
    const PASSWORD: &str = "the-admin-password-1234";
    let mut cmd = memory_command();
    cmd.args(["--groups", "--admin-password", PASSWORD])
        .env_remove("SCIMKIT_ADMIN_PASSWORD")
        .env_remove("SCIMKIT_GROUPS");
    let server = launch(cmd, KEY);
    let (status, _, user) = http(
        &server,
        "POST",
        "/scim/v2/Users",
        Some(&json!({"userName": "member@example.com"})),
        true,
    );
    assert_eq!(status, 201);
    let member = user["id"].as_str().unwrap();
    let (status, _, group) = http(
        &server,
        "POST",
        "/scim/v2/Groups",
        Some(
            &json!({"displayName": "Console <Admins>", "externalId": "okta-00g9", "members": [{"value": member}]}),
        ),
        true,
    );
    assert_eq!(status, 201, "{group}");
    assert_eq!(group["members"][0]["value"], member);
    let (_, _, types) = http(&server, "GET", "/scim/v2/ResourceTypes", None, true);
    assert_eq!(types["totalResults"], 2);
    let page = console_dashboard(&server, PASSWORD);
    assert!(page.contains(r#"id="groups""#), "{page}");
    assert!(
        page.contains("Console &lt;Admins&gt;"),
        "the name is shown, escaped: {page}"
    );
    assert!(page.contains("okta-00g9"));
}

#[test]
fn without_the_groups_flag_the_example_offers_no_groups() {
    const PASSWORD: &str = "the-admin-password-1234";
    let mut cmd = memory_command();
    cmd.args(["--admin-password", PASSWORD])
        .env_remove("SCIMKIT_ADMIN_PASSWORD")
        .env_remove("SCIMKIT_GROUPS");
    let server = launch(cmd, KEY);
    let (status, _, list) = http(&server, "GET", "/scim/v2/Groups", None, true);
    assert_eq!((status, list["totalResults"].as_u64()), (200, Some(0)));
    let (status, _, _) = http(
        &server,
        "POST",
        "/scim/v2/Groups",
        Some(&json!({"displayName": "x"})),
        true,
    );
    assert_eq!(status, 501);
    let page = console_dashboard(&server, PASSWORD);
    assert!(
        !page.contains(r#"id="groups""#),
        "no groups section without --groups"
    );
}
