//! The checks every console request passes and the headers every console response
//! carries: the console's configured origin (`Host` and `Origin` checks), prefetches,
//! hidden characters in account ids, and the security headers.

use std::net::SocketAddr;

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::Response;

/// Strict: no inline script, style or handler anywhere; everything from this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

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
