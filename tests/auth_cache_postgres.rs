//! The authentication cache across processes: two example servers (`examples/server`) on
//! one PostgreSQL database (a fresh schema), and the example's admin CLI as a third
//! process. A tenant switched off, then a key revoked, through the CLI is refused by both
//! servers within the cache's bound (1 s by default; the polls allow 10 s for a loaded
//! machine, and assert nothing about timing beyond that).
//!
//! The server is `SCIMKIT_TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`; without either, the test says it is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the polls wait for a change to be seen (the bound is 1 s).
const WITHIN: Duration = Duration::from_secs(10);

fn postgres_url() -> Option<String> {
    match std::env::var("SCIMKIT_TEST_DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if TcpStream::connect("127.0.0.1:5432").is_ok() => {
            Some("postgres://postgres@127.0.0.1:5432/test".into())
        }
        Err(_) => {
            eprintln!("skipped: no PostgreSQL on 127.0.0.1:5432");
            None
        }
    }
}

/// A command of the example binary on `database`, with no configuration from the
/// environment.
fn example(database: &str) -> Command {
    let mut cmd = Command::new(common::example_binary("server"));
    cmd.args(["--database", database])
        .env_remove("SCIMKIT_LISTEN")
        .env_remove("SCIMKIT_API_KEY")
        .env_remove("SCIMKIT_DATABASE_URL")
        .env_remove("SCIMKIT_TENANT");
    cmd
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server for `tenant` accepting `key`, and waits for its base URL.
fn start(database: &str, tenant: &str, key: &str) -> Server {
    let mut child = example(database)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            key,
            "--tenant",
            tenant,
        ])
        .arg("--no-events")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref().take(20) {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("SCIM base URL: ") {
            let url = url.trim_start_matches("http://");
            addr = url.split('/').next().map(str::to_owned);
            break;
        }
    }
    // Keep draining stdout so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let addr = addr.expect("the server prints its base URL");
    Server { child, addr }
}

/// The status of `GET /scim/v2/Users?count=0` with `key`.
fn status(server: &Server, key: &str) -> u16 {
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /scim/v2/Users?count=0 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Authorization: Bearer {key}\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"))
}

/// Polls until `server` answers `expected`, for at most [`WITHIN`].
fn answers_within(server: &Server, key: &str, expected: u16) -> bool {
    let deadline = Instant::now() + WITHIN;
    loop {
        if status(server, key) == expected {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Runs an admin command of the example on `database`; returns its standard output.
fn admin(database: &str, args: &[&str]) -> String {
    let out = example(database).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh schema on the server at `url`, and a URL whose connections use it.
fn fresh_schema(url: &str) -> (String, String) {
    let schema = format!("scimkit_auth_{}", uuid::Uuid::new_v4().simple());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    (schema, scoped)
}

fn drop_schema(url: &str, schema: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
}

#[test]
fn two_servers_on_one_postgres_database_refuse_a_revoked_key_within_the_bound() {
    let Some(url) = postgres_url() else { return };
    let (schema, database) = fresh_schema(&url);
    let (tenant, key) = ("acme", "pg-auth-cache-test-key");

    // One after the other: the first registers the key, the second finds it.
    let a = start(&database, tenant, key);
    let b = start(&database, tenant, key);
    for s in [&a, &b] {
        assert_eq!(status(s, key), 200);
        assert_eq!(status(s, "an-unknown-key"), 401);
    }

    // The account admin turns SCIM off from a third process (the CLI)...
    admin(&database, &["tenants", "disable", tenant]);
    for s in [&a, &b] {
        assert!(answers_within(s, key, 403), "{} sees the switch", s.addr);
    }
    admin(&database, &["tenants", "enable", tenant]);
    for s in [&a, &b] {
        assert!(answers_within(s, key, 200), "{} sees it on again", s.addr);
    }

    // ...and revokes the key.
    let listed = admin(&database, &["keys", "list", "--tenant", tenant]);
    let key_id = listed
        .split_whitespace()
        .find(|w| w.starts_with("key_"))
        .unwrap_or_else(|| panic!("a key id in {listed}"))
        .to_owned();
    admin(&database, &["keys", "revoke", "--tenant", tenant, &key_id]);
    for s in [&a, &b] {
        assert!(answers_within(s, key, 401), "{} refuses the key", s.addr);
    }

    drop(a);
    drop(b);
    drop_schema(&url, &schema);
}
