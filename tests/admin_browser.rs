//! The admin console in a real browser: starts the example server on a fresh SQLite file
//! and drives headless Chromium through chromedriver (WebDriver) along the setup flow of
//! a customer admin — log in, turn SCIM on, create a key, read its secret from the dialog,
//! use it for `POST /Users` (201), revoke it (the next request gets 401), upload a CSV
//! file and read the per-row report — saving screenshots in `target/admin-screenshots/`.
//! Raw HTTP requests check the security headers and that POSTs without the CSRF token or
//! from another origin are refused.
//!
//! The other tests need no browser: raw HTTP against servers of their own checks the
//! findings of the console's security review — the login form keeps no server-side state
//! (a flood of anonymous requests evicts nothing), failed logins are limited globally
//! and warnings about them have a budget, the Host and Origin checks follow the
//! configuration (DNS rebinding, a reverse proxy), several pending secrets are shown
//! together and only by a GET of the redirect after their creation, the console acts
//! only on existing accounts with clean ids, and `/admin/` redirects to `/admin`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them), or the paths in `SCIMKIT_CHROMIUM` and
//! `SCIMKIT_CHROMEDRIVER`. Without them the test says "skipped" and
//! passes, unless `SCIMKIT_REQUIRE_BROWSER=1`. `SCIMKIT_UPDATE_SCREENSHOT=1` also copies
//! the console's screenshot to `docs/images/admin-console.png` for the README.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Where Debian puts the browser and its driver; `SCIMKIT_CHROMIUM` and
/// `SCIMKIT_CHROMEDRIVER` name others.
fn chromium() -> String {
    std::env::var("SCIMKIT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("SCIMKIT_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}
const TENANT: &str = "acme";
const KEY_NAME: &str = "Okta (browser test)";
const SECOND_KEY_NAME: &str = "Entra ID (browser test)";

/// The target directory of this build (`target/`), from the test binary's path.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/admin_browser-HASH
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// A scratch directory removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "scimkit-admin-browser-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed at the end.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Server {
    _process: Running,
    /// `127.0.0.1:PORT`
    addr: String,
    base_url: String,
    password: String,
    log: PathBuf,
}

/// Entitles [`TENANT`] (the vendor's switch; the admin's switch stays off), then starts
/// the server on `db` (with `extra` arguments) and reads the lines it prints.
fn start_server(scratch: &Path, extra: &[&str]) -> Server {
    let db = scratch.join("console.db");
    let bin = common::example_binary("server");
    let status = Command::new(&bin)
        .args([
            "--database",
            db.to_str().unwrap(),
            "tenants",
            "entitle",
            TENANT,
        ])
        .env_remove("SCIMKIT_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "`server tenants entitle {TENANT}` failed");

    let log = scratch.join("server.log");
    let mut child = Command::new(&bin)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--database",
            db.to_str().unwrap(),
        ])
        .args(extra)
        .env("RUST_LOG", "debug")
        .env_remove("SCIMKIT_LISTEN")
        .env_remove("SCIMKIT_API_KEY")
        .env_remove("SCIMKIT_DATABASE_URL")
        .env_remove("SCIMKIT_ADMIN_PASSWORD")
        .env_remove("SCIMKIT_TENANT")
        .env_remove("SCIMKIT_BASE_URL")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let process = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut base_url = None;
    let mut console = None;
    let mut addr = None;
    for line in lines.by_ref().take(20) {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("scimkit SCIM server listening on ") {
            addr = rest.split(' ').next().map(str::to_owned);
        }
        if let Some(url) = line.strip_prefix("SCIM base URL: ") {
            base_url = Some(url.to_owned());
        }
        if let Some(rest) = line.strip_prefix("Admin console: ") {
            console = Some(rest.to_owned());
            break;
        }
    }
    // Keep draining stdout so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let base_url = base_url.expect("the server prints its base URL");
    let console = console.expect("the server prints the admin console's URL and password");
    // "http://127.0.0.1:PORT/admin (password: xxxxx-...)"
    let (_, password) = console.split_once(" (password: ").unwrap();
    let addr = addr.expect("the server prints its listen address");
    Server {
        _process: process,
        addr,
        base_url,
        password: password.trim_end_matches(')').to_owned(),
        log,
    }
}

/// Starts chromedriver on a free port and waits until it listens.
fn start_chromedriver() -> (Running, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (running, port)
}

/// One HTTP/1.1 request with `Connection: close` (and `Host: ADDR` unless `headers` name
/// another); status, headers (lower-cased names), body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (status, headers, body) = common::raw_http::response_parts(&text);
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `POST /scim/v2/Users` with `secret` as the bearer token; the status.
fn scim_create_user(server: &Server, secret: &str, user_name: &str) -> u16 {
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Erin", "familyName": "Example"},
        "active": true
    })
    .to_string();
    let auth = format!("Bearer {secret}");
    http(
        &server.addr,
        "POST",
        "/scim/v2/Users",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/scim+json"),
        ],
        &user,
    )
    .0
}

/// Waits (up to 15 s) until the element at `css` exists and its text satisfies `ok`;
/// returns the text. Tolerates the page changing underneath (a form just submitted).
async fn wait_for_text(client: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = String::new();
    loop {
        if let Ok(e) = client.find(Locator::Css(css)).await {
            if let Ok(text) = e.text().await {
                if ok(&text) {
                    return text;
                }
                last = text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {css}; last text {last:?}; page: {}",
            client.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn find(client: &Client, css: &str) -> Element {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css}: {e}"))
}

/// A field's current value (the DOM property, not the attribute).
async fn value(client: &Client, css: &str) -> String {
    find(client, css)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let dir = target_dir().join("admin-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, client.screenshot().await.unwrap()).unwrap();
    path
}

/// Whether the browser is here; a missing browser skips the test unless it is required.
fn browser_available() -> bool {
    let missing: Vec<String> = [chromium(), chromedriver()]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{} not installed (Debian packages chromium and chromium-driver)",
        missing.join(" and ")
    );
    if std::env::var("SCIMKIT_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("SCIMKIT_REQUIRE_BROWSER=1 but {why}");
    }
    // Straight to stderr, past the test harness's capture, so that it shows.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: admin console browser test: {why}"
    );
    false
}

#[tokio::test]
async fn admin_console_setup_flow_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let scratch = Scratch::new();
    let server = start_server(&scratch.0, &[]);
    let (_driver, port) = start_chromedriver();
    let profile = scratch.0.join("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1200,1400",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with headless Chromium");
    // In a task of its own, so that the browser is closed whether the flow passes or not.
    let outcome = tokio::spawn({
        let (client, server, dir) = (client.clone(), Arc::new(server), scratch.0.clone());
        async move { flow(&client, &server, &dir).await }
    })
    .await;
    let _ = client.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn flow(client: &Client, server: &Server, scratch: &Path) {
    let origin = format!("http://{}", server.addr);

    // The console needs a login: /admin sends the browser to the form.
    client.goto(&format!("{origin}/admin")).await.unwrap();
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), "/admin/login");
    find(client, "#password").await;
    screenshot(client, "01-login.png").await;

    // A wrong password is refused; the printed one logs in.
    find(client, "#password")
        .await
        .send_keys("wrong")
        .await
        .unwrap();
    find(client, "#login-form button")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(client, ".flash.error", |t| t.contains("Wrong password")).await;
    find(client, "#password")
        .await
        .send_keys(&server.password)
        .await
        .unwrap();
    find(client, "#login-form button")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(client, "#scim h2", |t| t == "SCIM provisioning").await;

    // Open the account: entitled by the vendor, the admin's switch still off.
    find(client, "select#tenant")
        .await
        .select_by_value(TENANT)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !client
        .current_url()
        .await
        .unwrap()
        .query()
        .unwrap_or_default()
        .contains("tenant=acme")
    {
        assert!(
            Instant::now() < deadline,
            "the account picker did not open acme"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for_text(client, "#scim-status", |t| t == "Off").await;
    let note = wait_for_text(client, "#csv-note", |_| true).await;
    assert!(note.contains("CSV file"), "{note}");
    assert_eq!(value(client, "#api-url").await, server.base_url);

    // Turn SCIM on.
    find(client, "#scim-switch").await.click().await.unwrap();
    wait_for_text(client, "#scim-status", |t| t == "On").await;
    wait_for_text(client, "#flash", |t| t.contains("now on for acme")).await;
    screenshot(client, "02-scim-on.png").await;

    // Create a key: its secret is shown once, in a dialog, and never in the URL.
    let secret = create_key(client, KEY_NAME, Some("03-new-key.png")).await;

    // The IdP's request with the secret is served.
    assert_eq!(scim_create_user(server, &secret, "erin@example.com"), 201);

    // Shown once: a reload has no dialog; the list shows the key and its use.
    client.refresh().await.unwrap();
    wait_for_text(client, "#key-list", |t| t.contains(KEY_NAME)).await;
    assert!(
        client.find(Locator::Css("dialog#new-key")).await.is_err(),
        "the secret is shown only once"
    );
    assert!(!client.source().await.unwrap().contains(&secret));
    let row = format!("//tr[td[@class='key-name' and normalize-space()='{KEY_NAME}']]");
    let cells = client
        .find(Locator::XPath(&row))
        .await
        .unwrap()
        .find_all(Locator::Css("td"))
        .await
        .unwrap();
    let mut texts = Vec::new();
    for c in &cells {
        texts.push(c.text().await.unwrap());
    }
    assert!(texts[1].ends_with("UTC"), "created: {texts:?}");
    assert!(
        texts[2].ends_with("UTC"),
        "last used is recorded: {texts:?}"
    );
    assert!(texts[3].contains("live"), "{texts:?}");

    // The security headers, and POSTs that the console refuses.
    check_http_security(client, server, &origin).await;

    // Revoke the key (confirming the browser's dialog): the next request gets 401.
    client
        .find(Locator::XPath(&format!(
            "{row}//button[contains(., 'Revoke')]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.accept_alert().await.unwrap();
    wait_for_text(client, "#flash", |t| t.contains("is revoked")).await;
    let status = find(client, "#key-list").await.text().await.unwrap();
    assert!(status.contains("revoked"), "{status}");
    screenshot(client, "04-revoked.png").await;
    assert_eq!(scim_create_user(server, &secret, "frank@example.com"), 401);

    // A second key, for another connection, is used: the account shows as connected.
    let second = create_key(client, SECOND_KEY_NAME, None).await;
    assert_eq!(scim_create_user(server, &second, "ivan@example.com"), 201);
    client.refresh().await.unwrap();
    let scim = wait_for_text(client, "#scim", |t| t.contains("connected")).await;
    assert!(scim.contains(SECOND_KEY_NAME), "{scim}");

    // Upload a CSV file: one row updates the user created over SCIM, one creates a user,
    // one is rejected; the report lists each with its line.
    let csv = scratch.join("users.csv");
    std::fs::write(
        &csv,
        "userName,givenName,familyName,email,active\n\
         erin@example.com,Erin,Renamed,erin@example.com,true\n\
         gina@example.com,Gina,Garcia,gina@example.com,yes\n\
         hank@example.com,Hank,Hill,hank@example.com,perhaps\n",
    )
    .unwrap();
    find(client, "#csv-file")
        .await
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    find(client, "#import-form button")
        .await
        .click()
        .await
        .unwrap();
    let summary = wait_for_text(client, "#import-summary", |_| true).await;
    assert!(
        summary.contains("3 rows: 1 created, 1 updated, 0 unchanged, 1 rejected"),
        "{summary}"
    );
    let mut report = Vec::new();
    for tr in client
        .find_all(Locator::Css("#import-report tbody tr"))
        .await
        .unwrap()
    {
        let mut cells = Vec::new();
        for td in tr.find_all(Locator::Css("td")).await.unwrap() {
            cells.push(td.text().await.unwrap());
        }
        report.push(cells);
    }
    let brief: Vec<(&str, &str, &str)> = report
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        brief,
        [
            ("2", "erin@example.com", "updated"),
            ("3", "gina@example.com", "created"),
            ("4", "hank@example.com", "rejected"),
        ]
    );
    assert!(report[2][3].contains("active"), "{report:?}");
    // The whole page in one picture (the README shows it).
    let height = client
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(1400);
    let (_, chrome) = client.get_window_size().await.unwrap();
    let viewport = client
        .execute("return window.innerHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(chrome);
    let height = u32::try_from(height + chrome.saturating_sub(viewport)).unwrap();
    client.set_window_size(1200, height).await.unwrap();
    let shot = screenshot(client, "05-import.png").await;
    if std::env::var("SCIMKIT_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&shot, docs.join("admin-console.png")).unwrap();
    }

    // Log out: the console needs the password again.
    find(client, ".logout button").await.click().await.unwrap();
    find(client, "#password").await;
    client.goto(&format!("{origin}/admin")).await.unwrap();
    assert_eq!(client.current_url().await.unwrap().path(), "/admin/login");

    // Neither the secret nor the password reached the server's log.
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("API key created"), "the log is captured");
    assert!(!log.contains(&secret), "the secret is not logged");
    assert!(
        !log.contains(&server.password),
        "the password is not logged"
    );
}

/// Creates a key named `name` in the console and reads its secret from the dialog, which
/// must be modal, warn that the secret is shown once, and keep it out of the URL.
async fn create_key(client: &Client, name: &str, shot: Option<&str>) -> String {
    find(client, "#key-name")
        .await
        .send_keys(name)
        .await
        .unwrap();
    find(client, "#create-key button")
        .await
        .click()
        .await
        .unwrap();
    let dialog = find(client, "dialog#new-key").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !dialog.is_displayed().await.unwrap() {
        assert!(
            Instant::now() < deadline,
            "the new key's dialog is not shown"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let is_modal = client
        .execute(
            "return document.querySelector('dialog#new-key').matches(':modal')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(is_modal, json!(true), "app.js opens the dialog as a modal");
    let secret = value(client, "#new-key-secret").await;
    assert!(
        secret.starts_with("scimkit_") && secret.len() == 57,
        "{secret}"
    );
    let warning = find(client, "#new-key-warning").await.text().await.unwrap();
    assert!(warning.contains("will not be shown again"), "{warning}");
    assert!(warning.contains("create a new"), "{warning}");
    let url = client.current_url().await.unwrap();
    assert!(
        !url.as_str().contains(&secret),
        "the secret is not in the URL"
    );
    find(client, "#new-key button[data-copy]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(client, "#new-key button[data-copy]", |t| t != "Copy").await;
    if let Some(file) = shot {
        screenshot(client, file).await;
    }
    find(client, "#new-key-done").await.click().await.unwrap();
    secret
}

/// Headers of the console's pages and assets; the CSRF and origin checks, over raw HTTP
/// with the browser's session cookie.
async fn check_http_security(client: &Client, server: &Server, origin: &str) {
    let cookie = client.get_named_cookie("scimkit_admin").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    let cookie = format!("scimkit_admin={}", cookie.value());
    let csrf = value(client, "#create-key input[name=csrf]").await;
    assert_eq!(csrf.len(), 64);

    // The login form (no session) and the dashboard (the browser's session).
    for (path, cookie) in [
        ("/admin/login", ""),
        ("/admin?tenant=acme", cookie.as_str()),
    ] {
        let (status, headers, body) = http(&server.addr, "GET", path, &[("Cookie", cookie)], "");
        assert_eq!(status, 200, "{path}: {body}");
        let csp = header(&headers, "content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: CSP {csp:?}");
        }
        assert_eq!(
            header(&headers, "cache-control"),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&headers, "referrer-policy"), Some("same-origin"));
        assert!(
            !body.contains("<script>") && !body.contains(" style="),
            "{path}"
        );
    }
    let (status, headers, _) = http(&server.addr, "GET", "/admin/static/app.js", &[], "");
    assert_eq!(status, 200);
    assert!(
        header(&headers, "content-type")
            .unwrap_or_default()
            .starts_with("text/javascript")
    );

    let form = "application/x-www-form-urlencoded";
    let keys_before = find(client, "#key-list").await.text().await.unwrap();
    // No CSRF token, a wrong one, or another origin: 403, and no key is created.
    for (body, from) in [
        ("tenant=acme&name=forged".to_owned(), origin.to_owned()),
        (
            format!("csrf={}&tenant=acme&name=forged", "0".repeat(64)),
            origin.to_owned(),
        ),
        (
            format!("csrf={csrf}&tenant=acme&name=forged"),
            "http://evil.example".to_owned(),
        ),
    ] {
        let (status, _, page) = http(
            &server.addr,
            "POST",
            "/admin/keys",
            &[
                ("Cookie", &cookie),
                ("Content-Type", form),
                ("Origin", &from),
            ],
            &body,
        );
        assert_eq!(status, 403, "{body} from {from}: {page}");
    }
    // No session: refused too.
    let (status, _, _) = http(
        &server.addr,
        "POST",
        "/admin/scim",
        &[("Content-Type", form), ("Origin", origin)],
        &format!("csrf={csrf}&tenant=acme&scim=off"),
    );
    assert_eq!(status, 403);
    // The same request with the token, from this origin, is accepted (a redirect back).
    let (status, headers, _) = http(
        &server.addr,
        "POST",
        "/admin/scim",
        &[
            ("Cookie", &cookie),
            ("Content-Type", form),
            ("Origin", origin),
        ],
        &format!("csrf={csrf}&tenant=acme&scim=on"),
    );
    assert_eq!(status, 303);
    assert_eq!(header(&headers, "location"), Some("/admin?tenant=acme"));
    client.refresh().await.unwrap();
    wait_for_text(client, "#scim-status", |t| t == "On").await;
    let keys_after = find(client, "#key-list").await.text().await.unwrap();
    assert_eq!(keys_before, keys_after, "no forged key was created");
}

// ---------------------------------------------------------------------------------------
// The security review's findings, over raw HTTP (no browser needed).

const FORM: &str = "application/x-www-form-urlencoded";
/// As in `examples/server/console/session.rs`.
const MAX_LOGIN_FAILURES: usize = 10;
const MAX_WARNINGS: usize = 20;

/// The value `name` gets from the response's `Set-Cookie` headers, with the attributes.
fn set_cookie(headers: &[(String, String)], name: &str) -> Option<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (n, value) = pair.split_once('=')?;
            (n == name).then(|| (value.to_owned(), attributes.to_owned()))
        })
        .next()
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_field(page: &str) -> String {
    let start = page
        .find(r#"name="csrf" value=""#)
        .unwrap_or_else(|| panic!("no csrf field in {page}"))
        + r#"name="csrf" value=""#.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The values of the secret fields of a page's new-key dialog.
fn secrets_in(page: &str) -> Vec<String> {
    page.split(r#"class="new-key-secret" value=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The login form's token, as the cookie and the field carry it.
fn login_form(server: &Server) -> String {
    let (status, headers, page) = http(&server.addr, "GET", "/admin/login", &[], "");
    assert_eq!(status, 200, "{page}");
    let (token, attributes) = set_cookie(&headers, "scimkit_admin_login").unwrap();
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"));
    assert!(attributes.contains("Path=/admin/login"), "{attributes}");
    assert_eq!(
        csrf_field(&page),
        token,
        "double submit: the same token in both"
    );
    assert!(
        set_cookie(&headers, "scimkit_admin").is_none(),
        "no session before the login"
    );
    token
}

/// `POST /admin/login` with this token in the cookie and the field.
fn post_login(
    server: &Server,
    cookie: Option<&str>,
    field: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let cookie = cookie.map(|c| format!("scimkit_admin_login={c}"));
    let mut headers = vec![("Content-Type", FORM)];
    if let Some(c) = &cookie {
        headers.push(("Cookie", c));
    }
    headers.extend_from_slice(extra);
    http(
        &server.addr,
        "POST",
        "/admin/login",
        &headers,
        &format!("csrf={field}&password={password}"),
    )
}

/// Logs in over raw HTTP; the session's `Cookie` header value.
fn raw_login(server: &Server) -> String {
    let token = login_form(server);
    let (status, headers, page) = post_login(server, Some(&token), &token, &server.password, &[]);
    assert_eq!(status, 303, "{page}");
    assert_eq!(header(&headers, "location"), Some("/admin"));
    let (id, _) = set_cookie(&headers, "scimkit_admin").unwrap();
    format!("scimkit_admin={id}")
}

/// The session's CSRF token, from the dashboard of `tenant`.
fn session_csrf(server: &Server, cookie: &str, tenant: &str) -> String {
    let path = format!("/admin?tenant={tenant}");
    let (status, _, page) = http(&server.addr, "GET", &path, &[("Cookie", cookie)], "");
    assert_eq!(status, 200, "{page}");
    csrf_field(&page)
}

fn form_post(
    server: &Server,
    path: &str,
    cookie: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let mut headers = vec![("Content-Type", FORM), ("Cookie", cookie)];
    headers.extend_from_slice(extra);
    http(&server.addr, "POST", path, &headers, body)
}

/// The log lines that contain `text`.
fn log_lines(server: &Server, text: &str) -> usize {
    std::fs::read_to_string(&server.log)
        .unwrap()
        .lines()
        .filter(|l| l.contains(text))
        .count()
}

/// Finding 1: an anonymous flood evicts nothing (no server-side state before the login);
/// the login form's token is a signed double-submit token. Finding 2: failed logins are
/// limited across all clients, parallel ones included, with one warning per window, and
/// warnings about unauthenticated requests have a budget.
#[test]
fn console_login_survives_floods_and_limits_guessing() {
    let scratch = Scratch::new();
    let server = start_server(&scratch.0, &[]);
    let origin = format!("http://{}", server.addr);

    // The admin opens the login form; then someone sends 1,100 cookie-less requests for
    // it and failed POSTs (more than the 1,000 sessions the server keeps).
    let token = login_form(&server);
    for _ in 0..1100 {
        let (status, headers, _) = http(&server.addr, "GET", "/admin/login", &[], "");
        assert_eq!(status, 200);
        assert!(set_cookie(&headers, "scimkit_admin").is_none());
    }
    for _ in 0..50 {
        let (status, headers, _) = post_login(&server, None, "x", "guess", &[]);
        assert_eq!(status, 403);
        assert!(set_cookie(&headers, "scimkit_admin").is_none());
    }
    // The token must be in the cookie and the field alike, signed by this server.
    let other = login_form(&server);
    let mut forged = token.clone();
    forged.replace_range(..1, if token.starts_with('1') { "2" } else { "1" });
    for (cookie, field) in [
        (None, token.as_str()),
        (Some(other.as_str()), token.as_str()),
        (Some(forged.as_str()), forged.as_str()),
        (Some(""), ""),
    ] {
        let (status, _, page) = post_login(&server, cookie, field, &server.password, &[]);
        assert_eq!(status, 403, "{cookie:?} / {field}");
        assert!(page.contains("had expired"), "{page}");
    }
    // The admin's form, opened before the flood, still logs in.
    let (status, headers, page) = post_login(
        &server,
        Some(&token),
        &token,
        &server.password,
        &[("Origin", &origin)],
    );
    assert_eq!(status, 303, "{page}");
    let (id, _) = set_cookie(&headers, "scimkit_admin").unwrap();
    let (cleared, attributes) = set_cookie(&headers, "scimkit_admin_login").unwrap();
    assert!(cleared.is_empty() && attributes.contains("Max-Age=0"));
    let session = format!("scimkit_admin={id}");

    // Parallel guesses: only MAX_LOGIN_FAILURES are checked in the window, the others
    // get 429 at once, with Retry-After.
    let server = Arc::new(server);
    let guesses: Vec<_> = (0..MAX_LOGIN_FAILURES + 4)
        .map(|i| {
            let (server, token) = (server.clone(), token.clone());
            std::thread::spawn(move || {
                let (status, headers, _) =
                    post_login(&server, Some(&token), &token, &format!("guess-{i}"), &[]);
                (status, header(&headers, "retry-after").map(str::to_owned))
            })
        })
        .collect();
    let answers: Vec<(u16, Option<String>)> =
        guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let wrong = answers.iter().filter(|(s, _)| *s == 401).count();
    let limited: Vec<u64> = answers
        .iter()
        .filter(|(s, _)| *s == 429)
        .map(|(_, retry)| retry.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(wrong, MAX_LOGIN_FAILURES, "{answers:?}");
    assert_eq!(limited.len(), 4, "{answers:?}");
    assert!(limited.iter().all(|s| (1..=60).contains(s)), "{limited:?}");
    // Until the window ends, even the right password is not checked; a session made
    // before keeps working.
    let (status, headers, page) = post_login(&server, Some(&token), &token, &server.password, &[]);
    assert_eq!(status, 429, "{page}");
    assert!(header(&headers, "retry-after").is_some());
    assert!(page.contains("Too many failed logins"), "{page}");
    let (status, _, _) = http(&server.addr, "GET", "/admin", &[("Cookie", &session)], "");
    assert_eq!(status, 200);

    // Cross-origin POSTs from nobody in particular: refused, and not logged one by one.
    for _ in 0..60 {
        let (status, _, _) = post_login(
            &server,
            Some(&token),
            &token,
            "x",
            &[("Origin", "http://evil.example")],
        );
        assert_eq!(status, 403);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(log_lines(&server, "too many failed logins"), 1);
    let wrong_logged = log_lines(&server, "admin console: wrong password");
    let cross_logged = log_lines(&server, "admin console: cross-origin login refused");
    assert_eq!(wrong_logged, MAX_LOGIN_FAILURES);
    assert_eq!(wrong_logged + cross_logged, MAX_WARNINGS);
    assert_eq!(log_lines(&server, "are not logged"), 1);
    assert!(
        !std::fs::read_to_string(&server.log)
            .unwrap()
            .contains(&server.password)
    );
}

/// Findings 3, 9 and 10 on a server without `--base-url`: the Host must be the listen
/// address (or a loopback name for it), Origin must be one of those origins; a client
/// that sends neither Origin nor Sec-Fetch-Site needs the cookie and the token; `/admin/`
/// redirects. Findings 4 and 5: pending secrets. Finding 6: accounts.
#[test]
fn console_checks_host_origin_tenants_and_reveals_secrets_once() {
    let scratch = Scratch::new();
    let server = start_server(&scratch.0, &[]);
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let evil = format!("evil.example:{port}");

    // DNS rebinding: the attacker's name in Host is refused, on every console route.
    for path in ["/admin/login", "/admin", "/admin/static/app.js", "/admin/"] {
        let (status, headers, page) = http(&server.addr, "GET", path, &[("Host", &evil)], "");
        assert_eq!(status, 421, "{path}: {page}");
        assert!(header(&headers, "content-security-policy").is_some());
        assert!(
            page.contains(&format!("http://{}/admin", server.addr)),
            "{page}"
        );
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let (status, _, _) = http(&server.addr, "GET", "/admin/login", &[("Host", &host)], "");
        assert_eq!(status, 200, "{host}");
    }
    let cookie = raw_login(&server);
    let csrf = session_csrf(&server, &cookie, TENANT);
    let scim_on = format!("csrf={csrf}&tenant={TENANT}&scim=on");
    let (status, _, _) = form_post(
        &server,
        "/admin/scim",
        &cookie,
        &scim_on,
        &[("Host", &evil), ("Origin", &format!("http://{evil}"))],
    );
    assert_eq!(status, 421);
    // Origin is compared with the configured origins, not with Host.
    let (status, _, _) = form_post(
        &server,
        "/admin/scim",
        &cookie,
        &scim_on,
        &[("Origin", &format!("http://{evil}"))],
    );
    assert_eq!(status, 403);
    let (status, _, _) = form_post(
        &server,
        "/admin/scim",
        &cookie,
        &scim_on,
        &[("Origin", &format!("http://localhost:{port}"))],
    );
    assert_eq!(status, 303);
    // Neither Origin nor Sec-Fetch-Site (not a browser): the cookie and token decide.
    let (status, headers, _) = form_post(&server, "/admin/scim", &cookie, &scim_on, &[]);
    assert_eq!(status, 303);
    assert_eq!(
        header(&headers, "location"),
        Some(format!("/admin?tenant={TENANT}").as_str())
    );
    let (status, _, _) = form_post(
        &server,
        "/admin/scim",
        &cookie,
        &format!("tenant={TENANT}&scim=on"),
        &[],
    );
    assert_eq!(status, 403);

    // `/admin/` is `/admin`, with the console's headers.
    for (path, to) in [
        ("/admin/", "/admin"),
        ("/admin/?tenant=acme", "/admin?tenant=acme"),
    ] {
        let (status, headers, _) = http(&server.addr, "GET", path, &[("Cookie", &cookie)], "");
        assert_eq!(status, 303, "{path}");
        assert_eq!(header(&headers, "location"), Some(to));
        assert!(header(&headers, "content-security-policy").is_some());
    }

    // Only existing accounts, with clean ids.
    let (status, _, page) = form_post(
        &server,
        "/admin/scim",
        &cookie,
        &format!("csrf={csrf}&tenant=ghost&scim=off"),
        &[],
    );
    assert_eq!(status, 404, "{page}");
    let (status, _, _) = form_post(
        &server,
        "/admin/keys",
        &cookie,
        &format!("csrf={csrf}&tenant=ghost&name=k"),
        &[],
    );
    assert_eq!(status, 404);
    let (status, _, _) = form_post(
        &server,
        "/admin/keys/revoke",
        &cookie,
        &format!("csrf={csrf}&tenant=ghost&id=key_x"),
        &[],
    );
    assert_eq!(status, 404);
    let (status, _, _) = import(&server, &cookie, &csrf, "ghost", false);
    assert_eq!(status, 404);
    for id in ["ac%E2%80%8Bme", "acme%E2%80%AE", "ac%00me"] {
        let (status, _, page) = form_post(
            &server,
            "/admin/scim",
            &cookie,
            &format!("csrf={csrf}&tenant={id}&scim=off"),
            &[],
        );
        assert_eq!(status, 400, "{id}: {page}");
        let path = format!("/admin?tenant={id}");
        let (status, _, _) = http(&server.addr, "GET", &path, &[("Cookie", &cookie)], "");
        assert_eq!(status, 400, "{id}");
    }
    // Nothing was created: neither the account nor its users.
    let (status, _, page) = http(
        &server.addr,
        "GET",
        "/admin?tenant=ghost",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(status, 404);
    assert!(!page.contains("ghost"), "{page}");
    let (status, _, page) = http(&server.addr, "GET", "/admin", &[("Cookie", &cookie)], "");
    assert_eq!(status, 200);
    assert!(
        !page.contains("ghost") && !page.contains('\u{200b}'),
        "{page}"
    );
    let export = Command::new(common::example_binary("server"))
        .args([
            "--database",
            scratch.0.join("console.db").to_str().unwrap(),
            "export",
            "--tenant",
            "ghost",
        ])
        .env_remove("SCIMKIT_DATABASE_URL")
        .output()
        .unwrap();
    assert!(export.status.success());
    assert_eq!(String::from_utf8_lossy(&export.stdout).lines().count(), 1);

    // A double-submitted "Create API key": two keys, two redirects with opaque reveal ids.
    let mut locations = Vec::new();
    for name in ["first", "second"] {
        let (status, headers, _) = form_post(
            &server,
            "/admin/keys",
            &cookie,
            &format!("csrf={csrf}&tenant={TENANT}&name={name}"),
            &[],
        );
        assert_eq!(status, 303);
        let to = header(&headers, "location").unwrap().to_owned();
        assert!(to.starts_with("/admin?tenant=acme&reveal="), "{to}");
        assert!(!to.contains("scimkit_"), "never the secret: {to}");
        locations.push(to);
    }
    let get = |path: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![("Cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        http(&server.addr, "GET", path, &headers, "")
    };
    // Nothing shows them but a GET of such a redirect: not a HEAD, a prefetch, the page
    // without or with a wrong reveal id, another account's page, the import's answer.
    let (status, _, body) = http(
        &server.addr,
        "HEAD",
        &locations[1],
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!((status, body.as_str()), (200, ""));
    let wrong = format!("/admin?tenant=acme&reveal={}", "0".repeat(64));
    let other_account = locations[1].replace("tenant=acme", "tenant=default");
    for (path, extra) in [
        (locations[1].as_str(), &[("Sec-Purpose", "prefetch")][..]),
        (locations[1].as_str(), &[("Purpose", "prefetch")][..]),
        (
            locations[1].as_str(),
            &[("Sec-Purpose", "prefetch;prerender")][..],
        ),
        ("/admin?tenant=acme", &[][..]),
        (wrong.as_str(), &[][..]),
        (other_account.as_str(), &[][..]),
    ] {
        let (status, _, page) = get(path, extra);
        assert_eq!(status, 200, "{path}");
        assert!(
            secrets_in(&page).is_empty(),
            "{path} {extra:?} showed a secret"
        );
    }
    let (status, _, page) = import(&server, &cookie, &csrf, TENANT, true);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("1 row"), "{page}");
    assert!(
        secrets_in(&page).is_empty(),
        "the import's page showed a secret"
    );
    // The redirect the browser followed shows both secrets, once.
    let (status, _, page) = get(&locations[1], &[]);
    assert_eq!(status, 200);
    let secrets = secrets_in(&page);
    assert_eq!(secrets.len(), 2, "{page}");
    assert!(page.contains("2 API keys created") && page.contains("will not be shown again"));
    for path in [&locations[1], &locations[0]] {
        let (_, _, page) = get(path, &[]);
        assert!(secrets_in(&page).is_empty(), "shown twice");
    }
    // Both keys are live, and their secrets work.
    for (i, secret) in secrets.iter().enumerate() {
        assert!(secret.starts_with("scimkit_"), "{secret}");
        assert_eq!(
            scim_create_user(&server, secret, &format!("user{i}@example.com")),
            201
        );
    }
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(secrets.iter().all(|s| !log.contains(s.as_str())));
}

/// `POST /admin/import` with a one-row CSV file into `tenant`.
fn import(
    server: &Server,
    cookie: &str,
    csrf: &str,
    tenant: &str,
    dry_run: bool,
) -> (u16, Vec<(String, String)>, String) {
    let boundary = "scimkit-test-boundary";
    let field = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let mut body = field("csrf", csrf) + &field("tenant", tenant);
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"u.csv\"\r\n\
         Content-Type: text/csv\r\n\r\nuserName,givenName,familyName\r\n\
         jane@example.com,Jane,Doe\r\n\r\n"
    ));
    if dry_run {
        body.push_str(&field("dry_run", "1"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let content_type = format!("multipart/form-data; boundary={boundary}");
    http(
        &server.addr,
        "POST",
        "/admin/import",
        &[("Cookie", cookie), ("Content-Type", &content_type)],
        &body,
    )
}

/// Finding 3 behind a reverse proxy: with `--base-url`, its origin is the console's; a
/// proxy that passes the upstream's address as Host still works, cookies are Secure
/// (the scheme is case-insensitive), and other origins and hosts are refused.
#[test]
fn console_behind_a_proxy_uses_the_configured_origin() {
    let scratch = Scratch::new();
    let server = start_server(
        &scratch.0,
        &["--base-url", "HTTPS://Scim.Example.test/scim/v2"],
    );
    let public = "https://scim.example.test";
    let (status, headers, _) = http(
        &server.addr,
        "GET",
        "/admin/login",
        &[("Host", "scim.example.test")],
        "",
    );
    assert_eq!(status, 200);
    let (_, attributes) = set_cookie(&headers, "scimkit_admin_login").unwrap();
    assert!(attributes.contains("Secure"), "{attributes}");
    let (status, _, _) = http(
        &server.addr,
        "GET",
        "/admin/login",
        &[("Host", "evil.example")],
        "",
    );
    assert_eq!(status, 421);

    // The proxy rewrote Host to the upstream's address (the default of `http`); the
    // browser's Origin is the public one.
    let token = login_form(&server);
    let (status, _, _) = post_login(
        &server,
        Some(&token),
        &token,
        &server.password,
        &[("Origin", &format!("http://{}", server.addr))],
    );
    assert_eq!(
        status, 403,
        "the listen address is not the configured origin"
    );
    let (status, headers, page) = post_login(
        &server,
        Some(&token),
        &token,
        &server.password,
        &[("Origin", public), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(status, 303, "{page}");
    let (id, attributes) = set_cookie(&headers, "scimkit_admin").unwrap();
    assert!(attributes.contains("Secure"), "{attributes}");
    let cookie = format!("scimkit_admin={id}");
    let csrf = session_csrf(&server, &cookie, TENANT);
    let (status, _, _) = form_post(
        &server,
        "/admin/scim",
        &cookie,
        &format!("csrf={csrf}&tenant={TENANT}&scim=on"),
        &[("Origin", public)],
    );
    assert_eq!(status, 303);
}
