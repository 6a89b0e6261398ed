//! The console's security plumbing: the admin password, the stateless token of the
//! login form, in-memory sessions behind a cookie (only after login), a CSRF
//! synchronizer token per session, the pending secrets of new keys, the console's
//! configured origin (Host and Origin checks), the failed-login limiter, the budget of
//! warnings about unauthenticated traffic, and the response headers every console
//! response carries.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::Response;
use hmac::{Hmac, Mac};
use scimkit::keys::{KeyHash, NewApiKey};
use sha2::Sha256;

/// The session cookie's name.
pub const COOKIE: &str = "scimkit_admin";
/// The login form's cookie: the double-submit half of [`LoginTokens`].
pub const LOGIN_COOKIE: &str = "scimkit_admin_login";

/// Strict: no inline script, style or handler anywhere; everything from this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// A session ends after this long without a request...
const IDLE: Duration = Duration::from_secs(60 * 60);
/// ...or this long after the login, whatever happens.
const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);
/// At most this many sessions are kept (each one needed the password); the least
/// recently used goes first.
const MAX_SESSIONS: usize = 1000;
/// A new key's secret waits this long for its page, then is forgotten.
pub const PENDING_SECRET_TTL: Duration = Duration::from_secs(5 * 60);
/// At most this many secrets wait for their page in one session.
pub const MAX_PENDING_SECRETS: usize = 10;

/// How long the login form's token is accepted.
pub const LOGIN_TOKEN_TTL: Duration = Duration::from_secs(60 * 60);
/// A login form reuses the browser's token while it has at least this long to live.
const LOGIN_TOKEN_MIN_LEFT: Duration = Duration::from_secs(10 * 60);

/// At most this many failed logins per [`LOGIN_WINDOW`] from one client address (an IPv6
/// address counts by its /64 network, which one host commonly has whole).
pub const MAX_LOGIN_FAILURES: u32 = 10;
/// At most this many failed logins per [`LOGIN_WINDOW`] from all addresses together: the
/// bound on password guessing spread over many addresses. An attacker at one address
/// cannot reach it (their attempts stop at [`MAX_LOGIN_FAILURES`]), so the admin at
/// another address can log in while one address is guessing.
pub const MAX_LOGIN_FAILURES_GLOBAL: u32 = 100;
/// The failed-login limiter's window.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// At most this many warnings about unauthenticated requests per [`WARNING_WINDOW`].
pub const MAX_WARNINGS: u32 = 20;
/// The warning budget's window.
pub const WARNING_WINDOW: Duration = Duration::from_secs(60);

/// A message for the next page, after a redirect.
#[derive(Debug, Clone)]
pub enum Flash {
    /// Something was done.
    Info(String),
    /// Something could not be done.
    Error(String),
}

/// A key just created, whose secret waits to be shown once.
struct Pending {
    key: NewApiKey,
    /// The opaque id the redirect after the creation carries (`reveal=`).
    reveal: String,
    created: Instant,
}

/// Why no key may be created now.
#[derive(Debug, PartialEq, Eq)]
pub enum PendingError {
    /// [`MAX_PENDING_SECRETS`] secrets wait already.
    Full,
    /// No randomness for the reveal id.
    Randomness,
}

/// One logged-in browser's session.
pub struct Session {
    /// The CSRF synchronizer token every form of this session carries.
    pub csrf: String,
    /// A message for the next page.
    pub flash: Option<Flash>,
    /// Keys just created, to show once each and forget.
    pending: Vec<Pending>,
    created: Instant,
    seen: Instant,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.seen) > IDLE || now.duration_since(self.created) > ABSOLUTE
    }

    fn purge_pending(&mut self, now: Instant) {
        self.pending
            .retain(|p| now.duration_since(p.created) <= PENDING_SECRET_TTL);
    }

    /// Keeps `key` until the page that reveals it; returns the opaque reveal id for the
    /// redirect's query (never the secret).
    pub fn add_pending(&mut self, key: NewApiKey, now: Instant) -> Result<String, PendingError> {
        self.purge_pending(now);
        if self.pending.len() >= MAX_PENDING_SECRETS {
            return Err(PendingError::Full);
        }
        let reveal = random_token().map_err(|_| PendingError::Randomness)?;
        self.pending.push(Pending {
            key,
            reveal: reveal.clone(),
            created: now,
        });
        Ok(reveal)
    }

    /// Whether one more key's secret can wait for its page.
    pub fn can_add_pending(&mut self, now: Instant) -> bool {
        self.purge_pending(now);
        self.pending.len() < MAX_PENDING_SECRETS
    }

    /// The pending keys of `tenant`, all together, taken out of the session, when
    /// `reveal` is the id of one of them (so only the redirect after a creation shows
    /// them); nothing otherwise.
    pub fn take_pending(&mut self, tenant: &str, reveal: &str, now: Instant) -> Vec<NewApiKey> {
        self.purge_pending(now);
        // Non-short-circuiting: every id is compared, in constant time.
        let known = self
            .pending
            .iter()
            .filter(|p| p.key.info.tenant == tenant)
            .fold(false, |found, p| found | tokens_match(&p.reveal, reveal));
        if !known {
            return Vec::new();
        }
        let (shown, kept) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.key.info.tenant == tenant);
        self.pending = kept;
        shown.into_iter().map(|p: Pending| p.key).collect()
    }
}

/// The logged-in sessions, by id (the cookie's value), in memory: a restart logs
/// everyone out. Nothing is stored for a browser before its login.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

type SessionMap = HashMap<String, Session>;

impl Sessions {
    /// The map, purged of expired sessions and of secrets past [`PENDING_SECRET_TTL`]:
    /// every operation purges (at most [`MAX_SESSIONS`] entries).
    fn lock(&self, now: Instant) -> std::sync::MutexGuard<'_, SessionMap> {
        // A panic while holding the lock leaves the map consistent (every update is a
        // single insert, removal or field write), so a poisoned lock is still usable.
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, s| !s.expired(now));
        for s in map.values_mut() {
            s.purge_pending(now);
        }
        map
    }

    /// Starts a logged-in session, returning its id.
    pub fn start(&self) -> Result<String, getrandom::Error> {
        self.start_at(Instant::now())
    }

    fn start_at(&self, now: Instant) -> Result<String, getrandom::Error> {
        let id = random_token()?;
        let session = Session {
            csrf: random_token()?,
            flash: None,
            pending: Vec::new(),
            created: now,
            seen: now,
        };
        let mut map = self.lock(now);
        while map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| s.seen)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => map.remove(&id),
                None => break,
            };
        }
        map.insert(id.clone(), session);
        Ok(id)
    }

    /// Runs `f` on the live session `id`, marking it used; `None` if there is none.
    pub fn with<R>(&self, id: &str, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        self.with_at(id, Instant::now(), f)
    }

    fn with_at<R>(&self, id: &str, now: Instant, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        let mut map = self.lock(now);
        let s = map.get_mut(id)?;
        s.seen = now;
        Some(f(s))
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) {
        self.lock(Instant::now()).remove(id);
    }

    /// Drops expired sessions and secrets (also done by every other operation); for a
    /// periodic task, so that nothing outlives its time on an idle server.
    pub fn purge(&self) {
        drop(self.lock(Instant::now()));
    }

    #[cfg(test)]
    fn len(&self, now: Instant) -> usize {
        self.lock(now).len()
    }
}

/// The login form's CSRF protection, without server-side state: a token
/// `TIME.NONCE.MAC` (MAC: HMAC-SHA256 under a key drawn at start, over the time and a
/// random nonce), sent both as a cookie and as a hidden field. A login POST must carry
/// the same valid, unexpired token in both; an attacker's site can neither read nor set
/// the cookie. Nothing is stored per visitor, so no amount of anonymous traffic evicts
/// anything.
pub struct LoginTokens {
    key: [u8; 32],
}

impl LoginTokens {
    /// A fresh key for this process.
    pub fn new() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self { key })
    }

    fn mac(&self, payload: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).ok()?;
        mac.update(b"scimkit admin login\0");
        mac.update(payload.as_bytes());
        Some(mac)
    }

    /// A token issued at `now` (seconds since the Unix epoch).
    pub fn issue(&self, now: u64) -> Result<String, getrandom::Error> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)?;
        let payload = format!("{now}.{}", hex::encode(nonce));
        let tag = self
            .mac(&payload)
            .map(|m| hex::encode(m.finalize().into_bytes()))
            .unwrap_or_default();
        Ok(format!("{payload}.{tag}"))
    }

    /// When `token` was issued, if this key signed it and it is not expired at `now`.
    fn issued_at(&self, token: &str, now: u64) -> Option<u64> {
        let (payload, tag) = token.rsplit_once('.')?;
        let (time, nonce) = payload.split_once('.')?;
        if nonce.len() != 32 || tag.len() != 64 {
            return None;
        }
        let tag = hex::decode(tag).ok()?;
        let mac = self.mac(payload)?;
        // Constant time.
        mac.verify_slice(&tag).ok()?;
        let issued: u64 = time.parse().ok()?;
        // A minute of clock skew forward; never older than the TTL.
        (issued <= now.saturating_add(60)
            && now.saturating_sub(issued) <= LOGIN_TOKEN_TTL.as_secs())
        .then_some(issued)
    }

    /// Whether the login form's `field` and the browser's `cookie` carry the same valid
    /// token.
    pub fn verify(&self, cookie: Option<&str>, field: &str, now: u64) -> bool {
        let Some(cookie) = cookie else {
            return false;
        };
        // `&`, not `&&`: both checks run whatever the first says.
        tokens_match(cookie, field) & self.issued_at(field, now).is_some()
    }

    /// The browser's token, if valid and young enough to be put in a new form.
    pub fn reusable(&self, cookie: Option<&str>, now: u64) -> Option<String> {
        let cookie = cookie?;
        let issued = self.issued_at(cookie, now)?;
        let left = (issued + LOGIN_TOKEN_TTL.as_secs()).saturating_sub(now);
        (left >= LOGIN_TOKEN_MIN_LEFT.as_secs() && issued <= now).then(|| cookie.to_owned())
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fixed window counter: at most `limit` events per `length`; a window starts with
/// the first event after the previous one ended.
struct Window {
    limit: u32,
    length: Duration,
    start: Option<Instant>,
    used: u32,
    /// Whether the limit was already reported in this window.
    reported: bool,
}

impl Window {
    fn new(limit: u32, length: Duration) -> Self {
        Self {
            limit,
            length,
            start: None,
            used: 0,
            reported: false,
        }
    }

    /// Starts a new window if the current one is over; returns the current one's start.
    fn roll(&mut self, now: Instant) -> Instant {
        match self.start {
            Some(start) if now.duration_since(start) < self.length => start,
            _ => {
                self.start = Some(now);
                self.used = 0;
                self.reported = false;
                now
            }
        }
    }
}

/// A login attempt allowed by the [`LoginLimiter`]: counted as a failure until
/// [`LoginLimiter::succeeded`] gives it back.
#[derive(Debug)]
pub struct Ticket {
    client: IpAddr,
    client_window: Instant,
    global_window: Instant,
}

/// The limiter's answer to a login attempt.
#[derive(Debug)]
pub enum Attempt {
    /// Check the password.
    Allowed(Ticket),
    /// Too many failures in this window: answer 429 without checking the password.
    Refused {
        /// Until the window ends.
        retry_after: Duration,
        /// Whether this is the window's first refusal (to log once per window).
        first: bool,
    },
}

/// The address a client's failures are counted under: an IPv4 address (an IPv4-mapped
/// IPv6 one read as IPv4), or the /64 network of an IPv6 address.
fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

struct Limits {
    global: Window,
    per_client: HashMap<IpAddr, Window>,
    client_limit: u32,
}

/// At most [`MAX_LOGIN_FAILURES`] failed logins per [`LOGIN_WINDOW`] from one client
/// address, and at most [`MAX_LOGIN_FAILURES_GLOBAL`] from all of them: with parallel
/// guesses too, since every attempt takes its slots before the password is checked and
/// only a success gives them back. An attempt refused for its address takes no slot of
/// the global window, so one address cannot lock the others out. Memory is bounded: an
/// address is remembered only for an attempt the global window allowed, and forgotten
/// when its window is over.
pub struct LoginLimiter(Mutex<Limits>);

impl LoginLimiter {
    /// The limiter of this process.
    pub fn new() -> Self {
        Self::with(MAX_LOGIN_FAILURES, MAX_LOGIN_FAILURES_GLOBAL, LOGIN_WINDOW)
    }

    fn with(client_limit: u32, global_limit: u32, window: Duration) -> Self {
        Self(Mutex::new(Limits {
            global: Window::new(global_limit, window),
            per_client: HashMap::new(),
            client_limit,
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a slot for a login attempt from `client`, or refuses it.
    pub fn attempt(&self, client: IpAddr, now: Instant) -> Attempt {
        let client = client_key(client);
        let mut guard = self.lock();
        let limits = &mut *guard;
        let length = limits.global.length;
        let global_window = limits.global.roll(now);
        // Forget the addresses whose window is over (at most as many as the global
        // window allowed attempts, so this stays small).
        if limits.per_client.len() > 2 * limits.global.limit as usize {
            limits
                .per_client
                .retain(|_, w| w.start.is_some_and(|s| now.duration_since(s) < length));
        }
        let mut fresh = Window::new(limits.client_limit, length);
        let mine = limits.per_client.get_mut(&client).unwrap_or(&mut fresh);
        let client_window = mine.roll(now);
        let refuse = |w: &mut Window, start: Instant| {
            let first = !w.reported;
            w.reported = true;
            Attempt::Refused {
                retry_after: w.length.saturating_sub(now.duration_since(start)),
                first,
            }
        };
        if mine.used >= mine.limit {
            return refuse(mine, client_window);
        }
        if limits.global.used >= limits.global.limit {
            return refuse(&mut limits.global, global_window);
        }
        mine.used += 1;
        limits.global.used += 1;
        // A first attempt from this address: remember its window (`mine` was `fresh`).
        limits.per_client.entry(client).or_insert(fresh);
        Attempt::Allowed(Ticket {
            client,
            client_window,
            global_window,
        })
    }

    /// The attempt succeeded: it does not count as a failure.
    pub fn succeeded(&self, ticket: Ticket) {
        let mut limits = self.lock();
        if limits.global.start == Some(ticket.global_window) {
            limits.global.used = limits.global.used.saturating_sub(1);
        }
        if let Some(w) = limits.per_client.get_mut(&ticket.client) {
            if w.start == Some(ticket.client_window) {
                w.used = w.used.saturating_sub(1);
            }
        }
    }
}

/// What to log of one more warning about unauthenticated traffic.
#[derive(Debug, PartialEq, Eq)]
pub enum Budget {
    /// Log it.
    Log,
    /// Log it, and that further ones are not logged until the window ends.
    LogLast,
    /// Do not log it.
    Quiet,
}

/// At most [`MAX_WARNINGS`] warnings per [`WARNING_WINDOW`] about requests nobody
/// authenticated (cross-origin POSTs, wrong passwords), so that they cannot flood the log.
pub struct WarningBudget(Mutex<Window>);

impl WarningBudget {
    /// The budget of this process.
    pub fn new() -> Self {
        Self::with(MAX_WARNINGS, WARNING_WINDOW)
    }

    fn with(limit: u32, window: Duration) -> Self {
        Self(Mutex::new(Window::new(limit, window)))
    }

    /// Whether to log one more warning at `now`.
    pub fn spend(&self, now: Instant) -> Budget {
        let mut w = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        w.roll(now);
        if w.used >= w.limit {
            return Budget::Quiet;
        }
        w.used += 1;
        if w.used == w.limit {
            Budget::LogLast
        } else {
            Budget::Log
        }
    }
}

/// The console's own origin, from the configuration (never from the request): the
/// `Host` a request must name and the `Origin` a POST must come from.
#[derive(Debug, Clone)]
pub struct Origins {
    /// `scheme://host[:port]`, lower-case, without a default port.
    origins: Vec<String>,
    /// `host[:port]` values accepted in `Host`, lower-case.
    hosts: Vec<String>,
    secure: bool,
}

impl Origins {
    /// With `--base-url`: its `scheme://host[:port]` is the only origin, and its host
    /// or the listen address (a reverse proxy that passes the upstream's address) are the
    /// accepted `Host`s. Without: the listen address, with `127.0.0.1`, `localhost` and
    /// `[::1]` when it is a loopback or unspecified address, over plain HTTP.
    pub fn new(base_url: Option<&str>, listen: SocketAddr) -> Result<Self, String> {
        let port = listen.port();
        let mut listen_hosts = vec![listen.to_string()];
        if listen.ip().is_loopback() || listen.ip().is_unspecified() {
            for host in ["127.0.0.1", "localhost", "[::1]"] {
                listen_hosts.push(format!("{host}:{port}"));
            }
        }
        listen_hosts.dedup();
        let Some(url) = base_url else {
            return Ok(Self {
                origins: listen_hosts.iter().map(|h| format!("http://{h}")).collect(),
                hosts: listen_hosts,
                secure: false,
            });
        };
        let bad = || format!("--base-url {url:?} is not an absolute http:// or https:// URL");
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => ":80",
            "https" => ":443",
            _ => return Err(bad()),
        };
        let authority = rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if authority.is_empty()
            || authority.contains('@')
            || !authority.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(bad());
        }
        let authority = authority
            .strip_suffix(default_port)
            .unwrap_or(&authority)
            .to_owned();
        let mut hosts = vec![authority.clone(), format!("{authority}{default_port}")];
        hosts.extend(listen_hosts);
        Ok(Self {
            origins: vec![format!("{scheme}://{authority}")],
            hosts,
            secure: scheme == "https",
        })
    }

    /// Whether cookies get `Secure`: the configured origin is HTTPS.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Whether `host` (a `Host` header) names this console.
    pub fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether `origin` (an `Origin` header) is this console's.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// The console's origin, as a page names it (the first of the configured ones).
    pub fn primary(&self) -> &str {
        self.origins.first().map_or("", String::as_str)
    }
}

/// 256 random bits from the operating system, as 64 hex digits.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// A fresh admin password: 25 characters of `a-z0-9` (129 bits) in groups of five,
/// easy to read off a terminal and to type.
pub fn random_password() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(29);
    let mut chars = 0;
    while chars < 25 {
        let mut pool = [0u8; 64];
        getrandom::fill(&mut pool)?;
        // 252 = 7 × 36: rejecting 252..=255 keeps every character equally likely.
        for b in pool.into_iter().filter(|b| *b < 252) {
            if chars == 25 {
                break;
            }
            if chars > 0 && chars % 5 == 0 {
                out.push('-');
            }
            out.push(char::from(ALPHABET[usize::from(b % 36)]));
            chars += 1;
        }
    }
    Ok(out)
}

/// The admin password, kept as a SHA-256 digest and compared in constant time.
pub struct Password(KeyHash);

impl Password {
    /// Keeps the digest of `password`.
    pub fn new(password: &str) -> Self {
        Self(KeyHash::of(password))
    }

    /// Whether `candidate` is the password (constant time in the candidate's content).
    pub fn matches(&self, candidate: &str) -> bool {
        KeyHash::of(candidate).ct_eq(&self.0)
    }
}

/// Whether two tokens are equal, in time independent of where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    KeyHash::of(a).ct_eq(&KeyHash::of(b))
}

/// The value of cookie `name` from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// The session id from the request's `Cookie` headers.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE).filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value for session `id`: HttpOnly, SameSite=Strict, only sent to
/// `/admin`, and Secure when the console's origin is HTTPS.
pub fn set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/admin; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value for the login form's token: only sent to `/admin/login`, for
/// as long as the token is valid.
pub fn set_login_cookie(token: &str, secure: bool) -> String {
    format!(
        "{LOGIN_COOKIE}={token}; Path=/admin/login; Max-Age={}; HttpOnly; SameSite=Strict{}",
        LOGIN_TOKEN_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that deletes the login form's cookie.
pub fn clear_login_cookie(secure: bool) -> String {
    format!(
        "{LOGIN_COOKIE}=; Path=/admin/login; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether a state-changing request comes from a page of this console: a browser's
/// `Sec-Fetch-Site` must say same-origin and its `Origin` must be the configured
/// origin. Clients that send neither (not a browser: a browser sends `Origin` with
/// every POST) pass this check; they still need the cookie and the token.
pub fn same_origin(headers: &HeaderMap, origins: &Origins) -> bool {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match text("origin") {
        None => true,
        Some(origin) => origins.allows_origin(origin),
    }
}

/// Whether the request is a prefetch or prerender (`Sec-Purpose`, `Purpose`,
/// `X-Purpose`, `X-Moz`), which must not consume a one-time secret.
pub fn is_prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose", "x-purpose", "x-moz"]
        .into_iter()
        .filter_map(|name| headers.get(name))
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("prefetch") || v.contains("prerender") || v.contains("preview")
        })
}

/// Whether `c` is a control character or an invisible formatting character (Unicode
/// general category Cc or Cf, and the line and paragraph separators), which have no
/// place in an account id: they hide or reorder what an admin reads.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            u32::from(c),
            0x00AD
                | 0x0600..=0x0605
                | 0x061C
                | 0x06DD
                | 0x070F
                | 0x0890..=0x0891
                | 0x08E2
                | 0x180E
                | 0x200B..=0x200F
                | 0x2028..=0x202E
                | 0x2060..=0x2064
                | 0x2066..=0x206F
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0x110BD
                | 0x110CD
                | 0x13430..=0x1343F
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0001
                | 0xE0020..=0xE007F
        )
}

/// Adds the headers every console response carries; pages (anything that did not set
/// its own `Cache-Control`) are never stored by the browser or a proxy.
pub async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` with every POST, and the
    // same-origin check needs the real origin. Other sites still get no referrer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::Utc;
    use scimkit::keys::{ApiKeyInfo, generate_secret};

    fn key(tenant: &str, name: &str) -> NewApiKey {
        NewApiKey {
            info: ApiKeyInfo {
                id: format!("key_{name}"),
                tenant: tenant.into(),
                name: name.into(),
                created_at: Utc::now(),
                last_used_at: None,
                expires_at: None,
                revoked_at: None,
            },
            secret: generate_secret().unwrap(),
        }
    }

    fn names(keys: &[NewApiKey]) -> Vec<&str> {
        keys.iter().map(|k| k.info.name.as_str()).collect()
    }

    #[test]
    fn passwords_are_grouped_lowercase_alphanumerics() {
        let p = random_password().unwrap_or_default();
        assert_eq!(p.len(), 29);
        assert!(p.split('-').all(|g| g.len() == 5));
        assert!(Password::new(&p).matches(&p));
        assert!(!Password::new(&p).matches("wrong"));
    }

    fn loopback() -> Origins {
        Origins::new(None, "127.0.0.1:8080".parse().unwrap()).unwrap()
    }

    #[test]
    fn origin_must_be_the_configured_one_not_the_host() {
        let o = loopback();
        let mut h = HeaderMap::new();
        // DNS rebinding: the attacker's name in Host and Origin alike.
        h.insert("host", HeaderValue::from_static("evil.example:8080"));
        h.insert(
            "origin",
            HeaderValue::from_static("http://evil.example:8080"),
        );
        assert!(!same_origin(&h, &o));
        h.insert("origin", HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h, &o));
        h.insert("origin", HeaderValue::from_static("http://localhost:8080"));
        assert!(same_origin(&h, &o));
        h.insert("origin", HeaderValue::from_static("null"));
        assert!(!same_origin(&h, &o));
        h.insert("origin", HeaderValue::from_static("https://127.0.0.1:8080"));
        assert!(!same_origin(&h, &o));
        // Neither header: not a browser; the cookie and token still apply.
        h.remove("origin");
        assert!(same_origin(&h, &o));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h, &o));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(!same_origin(&h, &o));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h, &o));
    }

    #[test]
    fn hosts_come_from_the_listen_address_or_the_base_url() {
        let o = loopback();
        assert!(!o.secure());
        assert_eq!(o.primary(), "http://127.0.0.1:8080");
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
        ] {
            assert!(o.allows_host(host), "{host}");
        }
        for host in ["evil.example:8080", "127.0.0.1:8081", "127.0.0.1", ""] {
            assert!(!o.allows_host(host), "{host}");
        }
        let lan = Origins::new(None, "192.0.2.7:9000".parse().unwrap()).unwrap();
        assert!(lan.allows_host("192.0.2.7:9000"));
        assert!(!lan.allows_host("localhost:9000"));
        assert!(lan.allows_origin("http://192.0.2.7:9000"));

        let o = Origins::new(
            Some("HTTPS://Scim.Example.com/scim/v2"),
            "127.0.0.1:8080".parse().unwrap(),
        )
        .unwrap();
        assert!(o.secure(), "the scheme is case-insensitive");
        assert_eq!(o.primary(), "https://scim.example.com");
        assert!(o.allows_origin("https://scim.example.com"));
        assert!(!o.allows_origin("http://scim.example.com"));
        assert!(
            !o.allows_origin("http://127.0.0.1:8080"),
            "only the base URL's"
        );
        for host in [
            "scim.example.com",
            "scim.example.com:443",
            "127.0.0.1:8080",
            "localhost:8080",
        ] {
            assert!(o.allows_host(host), "{host}");
        }
        assert!(!o.allows_host("evil.example"));

        let o = Origins::new(
            Some("http://example.com:8443/x"),
            "0.0.0.0:8080".parse().unwrap(),
        )
        .unwrap();
        assert!(!o.secure());
        assert!(o.allows_origin("http://example.com:8443"));
        assert!(o.allows_host("example.com:8443"));
        assert!(o.allows_host("0.0.0.0:8080"));
        let o = Origins::new(
            Some("http://example.com:80/"),
            "0.0.0.0:80".parse().unwrap(),
        )
        .unwrap();
        assert!(o.allows_origin("http://example.com"));
        for bad in ["example.com/scim", "ftp://x/", "https:///x", "https://u@x/"] {
            assert!(
                Origins::new(Some(bad), "127.0.0.1:1".parse().unwrap()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn cookie_is_found_among_others() {
        let id = "a".repeat(64);
        let mut h = HeaderMap::new();
        let v = format!("x=1; {COOKIE}={id}; y=2");
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(session_id(&h), Some(id));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("scimkit_admin=short"),
        );
        assert_eq!(session_id(&h), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("scimkit_admin_login=t; scimkit_admin=x"),
        );
        assert_eq!(cookie(&h, LOGIN_COOKIE).as_deref(), Some("t"));
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("x"));
    }

    #[test]
    fn login_tokens_are_signed_double_submitted_and_expire() {
        let tokens = LoginTokens::new().unwrap();
        let now = 1_700_000_000;
        let t = tokens.issue(now).unwrap();
        assert!(tokens.verify(Some(&t), &t, now));
        assert!(tokens.verify(Some(&t), &t, now + LOGIN_TOKEN_TTL.as_secs()));
        // Expired, or from the future.
        assert!(!tokens.verify(Some(&t), &t, now + LOGIN_TOKEN_TTL.as_secs() + 1));
        assert!(!tokens.verify(Some(&t), &t, now - 61));
        // The cookie is missing or differs from the field.
        let other = tokens.issue(now).unwrap();
        assert_ne!(t, other);
        assert!(!tokens.verify(None, &t, now));
        assert!(!tokens.verify(Some(&other), &t, now));
        // Another process's key, a changed time or nonce, a truncated or foreign token.
        let foreign = LoginTokens::new().unwrap().issue(now).unwrap();
        assert!(!tokens.verify(Some(&foreign), &foreign, now));
        let (_, rest) = t.split_once('.').unwrap();
        let moved = format!("{}.{rest}", now + 1);
        assert!(!tokens.verify(Some(&moved), &moved, now + 1));
        let mut flipped = t.clone().into_bytes();
        let i = flipped.len() - 1;
        flipped[i] = if flipped[i] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(!tokens.verify(Some(&flipped), &flipped, now));
        for junk in ["", "x", "1.2.3", &t[..t.len() - 2]] {
            assert!(!tokens.verify(Some(junk), junk, now), "{junk}");
        }
        // A young token is reused by the next form; an old one is replaced.
        assert_eq!(tokens.reusable(Some(&t), now + 60).as_deref(), Some(&*t));
        assert_eq!(
            tokens.reusable(Some(&t), now + 49 * 60).as_deref(),
            Some(&*t)
        );
        assert_eq!(tokens.reusable(Some(&t), now + 51 * 60), None);
        assert_eq!(tokens.reusable(Some(&foreign), now), None);
        assert_eq!(tokens.reusable(None, now), None);
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn failed_logins_are_limited_per_client_address() {
        let t0 = Instant::now();
        let limiter = LoginLimiter::with(3, 100, Duration::from_secs(60));
        // Three attempts in flight at once take the three slots; the fourth is refused
        // before its password is checked.
        let tickets: Vec<Ticket> = (0..3)
            .map(|_| match limiter.attempt(A, t0) {
                Attempt::Allowed(t) => t,
                other => panic!("{other:?}"),
            })
            .collect();
        let later = t0 + Duration::from_secs(20);
        match limiter.attempt(A, later) {
            Attempt::Refused { retry_after, first } => {
                assert_eq!(retry_after, Duration::from_secs(40));
                assert!(first);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            limiter.attempt(A, later),
            Attempt::Refused { first: false, .. }
        ));
        // A success gives its slot back.
        let mut tickets = tickets.into_iter();
        limiter.succeeded(tickets.next().unwrap());
        assert!(matches!(limiter.attempt(A, later), Attempt::Allowed(_)));
        assert!(matches!(limiter.attempt(A, later), Attempt::Refused { .. }));
        // The next window starts afresh, and a ticket of the old one gives nothing back.
        let next = t0 + Duration::from_secs(61);
        assert!(matches!(limiter.attempt(A, next), Attempt::Allowed(_)));
        limiter.succeeded(tickets.next().unwrap());
        assert!(matches!(limiter.attempt(A, next), Attempt::Allowed(_)));
        assert!(matches!(limiter.attempt(A, next), Attempt::Allowed(_)));
        assert!(matches!(
            limiter.attempt(A, next),
            Attempt::Refused { first: true, .. }
        ));
    }

    #[test]
    fn one_address_hammering_does_not_lock_out_the_admin_at_another() {
        let t0 = Instant::now();
        let limiter = LoginLimiter::new();
        for i in 0..10_000u32 {
            let _ = limiter.attempt(A, t0 + Duration::from_millis(u64::from(i % 50_000)));
        }
        assert!(matches!(limiter.attempt(A, t0), Attempt::Refused { .. }));
        // The admin, elsewhere, still gets to check the password.
        match limiter.attempt(B, t0 + Duration::from_secs(1)) {
            Attempt::Allowed(ticket) => limiter.succeeded(ticket),
            other => panic!("{other:?}"),
        }
        // Every address of one IPv6 /64 counts as one client.
        let v6 =
            |last: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last));
        for i in 0..MAX_LOGIN_FAILURES {
            assert!(matches!(
                limiter.attempt(v6(i as u16), t0),
                Attempt::Allowed(_)
            ));
        }
        assert!(matches!(
            limiter.attempt(v6(999), t0),
            Attempt::Refused { .. }
        ));
    }

    #[test]
    fn guessing_from_many_addresses_is_bounded_by_the_global_limit() {
        let t0 = Instant::now();
        let limiter = LoginLimiter::with(3, 5, Duration::from_secs(60));
        let addr = |i: u8| IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, i));
        let allowed = (0..50u8)
            .filter(|&i| matches!(limiter.attempt(addr(i), t0), Attempt::Allowed(_)))
            .count();
        assert_eq!(allowed, 5);
        // The limiter remembers no more addresses than it allowed attempts.
        assert!(limiter.lock().per_client.len() <= 5);
        // The next window allows guesses again.
        let next = t0 + Duration::from_secs(60);
        assert!(matches!(
            limiter.attempt(addr(200), next),
            Attempt::Allowed(_)
        ));
    }

    #[test]
    fn warnings_have_a_budget_per_window() {
        let t0 = Instant::now();
        let budget = WarningBudget::with(3, Duration::from_secs(60));
        let spent: Vec<Budget> = (0..5).map(|_| budget.spend(t0)).collect();
        assert_eq!(
            spent,
            [
                Budget::Log,
                Budget::Log,
                Budget::LogLast,
                Budget::Quiet,
                Budget::Quiet
            ]
        );
        assert_eq!(budget.spend(t0 + Duration::from_secs(60)), Budget::Log);
    }

    #[test]
    fn every_pending_secret_is_shown_once_on_its_own_redirect() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let id = sessions.start_at(t0).unwrap();
        // A double-submitted form: two keys, two redirects; the browser follows one.
        let (r1, r2, r3) = sessions
            .with_at(&id, t0, |s| {
                (
                    s.add_pending(key("acme", "one"), t0).unwrap(),
                    s.add_pending(key("acme", "two"), t0).unwrap(),
                    s.add_pending(key("other", "three"), t0).unwrap(),
                )
            })
            .unwrap();
        assert_ne!(r1, r2);
        let take = |tenant: &str, reveal: &str| {
            sessions
                .with_at(&id, t0, |s| s.take_pending(tenant, reveal, t0))
                .unwrap()
        };
        // No id, a wrong one, or another account's: nothing is shown.
        assert!(take("acme", "").is_empty());
        assert!(take("acme", &"0".repeat(64)).is_empty());
        assert!(take("acme", &r3).is_empty());
        // The id of either shows both, together, once.
        assert_eq!(names(&take("acme", &r2)), ["one", "two"]);
        assert!(take("acme", &r1).is_empty());
        assert!(take("acme", &r2).is_empty());
        assert_eq!(names(&take("other", &r3)), ["three"]);
    }

    #[test]
    fn pending_secrets_expire_and_are_bounded() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let id = sessions.start_at(t0).unwrap();
        let r = sessions
            .with_at(&id, t0, |s| s.add_pending(key("acme", "one"), t0).unwrap())
            .unwrap();
        let late = t0 + PENDING_SECRET_TTL + Duration::from_secs(1);
        // Purged by any operation of any session, not only when its page is asked for.
        let other = sessions.start_at(late).unwrap();
        sessions.with_at(&other, late, |_| ()).unwrap();
        let left = sessions
            .map
            .lock()
            .unwrap()
            .get(&id)
            .map(|s| s.pending.len());
        assert_eq!(left, Some(0));
        assert!(
            sessions
                .with_at(&id, late, |s| s.take_pending("acme", &r, late))
                .unwrap()
                .is_empty()
        );
        let full = sessions
            .with_at(&id, late, |s| {
                for i in 0..MAX_PENDING_SECRETS {
                    s.add_pending(key("acme", &i.to_string()), late).unwrap();
                }
                s.add_pending(key("acme", "more"), late)
            })
            .unwrap();
        assert_eq!(full, Err(PendingError::Full));
    }

    #[test]
    fn expired_sessions_are_purged_by_any_operation() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let a = sessions.start_at(t0).unwrap();
        let b = sessions.start_at(t0 + IDLE / 2).unwrap();
        assert_eq!(sessions.len(t0 + IDLE / 2), 2);
        // `a` idle for longer than IDLE: gone at the next operation, whichever it is.
        let later = t0 + IDLE + Duration::from_secs(1);
        assert!(sessions.with_at(&b, later, |_| ()).is_some());
        assert_eq!(sessions.len(later), 1);
        assert!(sessions.with_at(&a, later, |_| ()).is_none());
        // In use, a session still ends after ABSOLUTE.
        let b_created = t0 + IDLE / 2;
        let mut now = later;
        while now + IDLE / 2 <= b_created + ABSOLUTE {
            now += IDLE / 2;
            assert!(sessions.with_at(&b, now, |_| ()).is_some());
        }
        now += IDLE / 2;
        assert!(sessions.with_at(&b, now, |_| ()).is_none());
        assert_eq!(sessions.len(now), 0);
    }

    #[test]
    fn sessions_are_capped() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let first = sessions.start_at(t0).unwrap();
        for i in 1..=MAX_SESSIONS {
            sessions
                .start_at(t0 + Duration::from_millis(i as u64))
                .unwrap();
        }
        let now = t0 + Duration::from_secs(1);
        assert_eq!(sessions.len(now), MAX_SESSIONS);
        assert!(sessions.with_at(&first, now, |_| ()).is_none());
    }

    #[test]
    fn prefetches_are_recognised() {
        let mut h = HeaderMap::new();
        assert!(!is_prefetch(&h));
        h.insert(
            "sec-purpose",
            HeaderValue::from_static("prefetch;prerender"),
        );
        assert!(is_prefetch(&h));
        let mut h = HeaderMap::new();
        h.insert("purpose", HeaderValue::from_static("prefetch"));
        assert!(is_prefetch(&h));
    }

    #[test]
    fn hidden_characters_are_recognised() {
        for c in [
            '\u{0}',
            '\n',
            '\u{7f}',
            '\u{85}',
            '\u{200b}',
            '\u{200e}',
            '\u{202e}',
            '\u{2066}',
            '\u{feff}',
            '\u{ad}',
            '\u{e0041}',
            '\u{2028}',
        ] {
            assert!(is_hidden_char(c), "{:04X}", u32::from(c));
        }
        for c in ['a', 'é', '-', '_', '.', ' ', '中', '\u{2010}'] {
            assert!(!is_hidden_char(c), "{c}");
        }
    }
}
