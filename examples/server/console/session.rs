//! The console's sessions: in-memory sessions behind a cookie (only after login), a CSRF
//! synchronizer token per session, the pending secrets of new keys, and the cookies.
//! The login itself is in `login.rs`, the checks on every request in `guard.rs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::header::{self, HeaderMap};
use scimkit::keys::NewApiKey;

use super::login::{LOGIN_TOKEN_TTL, tokens_match};

/// The session cookie's name.
pub const COOKIE: &str = "scimkit_admin";
/// The login form's cookie: the double-submit half of
/// [`LoginTokens`](super::login::LoginTokens).
pub const LOGIN_COOKIE: &str = "scimkit_admin_login";

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

/// 256 random bits from the operating system, as 64 hex digits.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use axum::http::header::HeaderValue;
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
}
