//! The console's security plumbing: the admin password, in-memory sessions behind a
//! cookie, a CSRF synchronizer token per session, the same-origin check on every POST,
//! and the response headers every console response carries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::Response;
use scimkit::keys::{KeyHash, NewApiKey};

/// The session cookie's name.
pub const COOKIE: &str = "scimkit_admin";

/// Strict: no inline script, style or handler anywhere; everything from this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// A logged-in session ends after this long without a request...
const IDLE: Duration = Duration::from_secs(60 * 60);
/// ...or this long after the login, whatever happens.
const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);
/// A session that never logged in (it only holds the login form's CSRF token).
const ANONYMOUS_IDLE: Duration = Duration::from_secs(10 * 60);
/// At most this many sessions are kept; the oldest anonymous ones go first.
const MAX_SESSIONS: usize = 1000;

/// A message for the next page, after a redirect.
#[derive(Debug, Clone)]
pub enum Flash {
    /// Something was done.
    Info(String),
    /// Something could not be done.
    Error(String),
}

/// One browser's session.
pub struct Session {
    /// The CSRF synchronizer token every form of this session carries.
    pub csrf: String,
    /// Whether the admin password was given.
    pub authenticated: bool,
    /// A message for the next page.
    pub flash: Option<Flash>,
    /// A key just created, to show once on the next page and forget.
    pub reveal: Option<NewApiKey>,
    created: Instant,
    seen: Instant,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        if self.authenticated {
            now.duration_since(self.seen) > IDLE || now.duration_since(self.created) > ABSOLUTE
        } else {
            now.duration_since(self.seen) > ANONYMOUS_IDLE
        }
    }
}

/// The sessions, by id (the cookie's value), in memory: a restart logs everyone out.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves the map consistent (every update is a
        // single insert or field write), so a poisoned lock is still usable.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session, returning its id.
    pub fn start(&self, authenticated: bool) -> Result<String, getrandom::Error> {
        let id = random_token()?;
        let now = Instant::now();
        let session = Session {
            csrf: random_token()?,
            authenticated,
            flash: None,
            reveal: None,
            created: now,
            seen: now,
        };
        let mut map = self.lock();
        map.retain(|_, s| !s.expired(now));
        while map.len() >= MAX_SESSIONS {
            // Anonymous sessions first, then the least recently used.
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| (s.authenticated, s.seen))
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
        let now = Instant::now();
        let mut map = self.lock();
        match map.get_mut(id) {
            Some(s) if !s.expired(now) => {
                s.seen = now;
                Some(f(s))
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// 256 random bits from the operating system, as 64 hex digits.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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

/// The session id from the request's `Cookie` headers.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value for session `id`: HttpOnly, SameSite=Strict, only sent to
/// `/admin`, and Secure when the server is reached over HTTPS.
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

/// Whether a state-changing request comes from a page of this server: a browser's
/// `Sec-Fetch-Site` must say same-origin and its `Origin` must name this host. (Clients
/// that send neither still need the session cookie and the CSRF token.)
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match text("origin") {
        None => true,
        Some(origin) => {
            let Some(host) = text("host") else {
                return false;
            };
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }
    }
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
mod tests {
    use super::*;

    #[test]
    fn passwords_are_grouped_lowercase_alphanumerics() {
        let p = random_password().unwrap_or_default();
        assert_eq!(p.len(), 29);
        assert!(p.split('-').all(|g| g.len() == 5));
        assert!(Password::new(&p).matches(&p));
        assert!(!Password::new(&p).matches("wrong"));
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert("origin", HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h));
        h.insert("origin", HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
        h.remove("origin");
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
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
    }
}
