//! The console's login: the admin password, the stateless token of the login form, the
//! failed-login limiter and the budget of warnings about unauthenticated traffic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use scimkit::keys::KeyHash;
use sha2::Sha256;

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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
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
}
