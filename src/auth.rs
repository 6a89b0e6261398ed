//! Bearer authentication: `Authorization: Bearer <key>` → [`Principal`].

use async_trait::async_trait;
use http::HeaderMap;

use crate::error::ScimError;
use crate::store::Principal;

/// Why a credential was refused. Rendered as 401 (or 403) without revealing which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The key is unknown, revoked or malformed.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The key is valid but SCIM is switched off for its tenant.
    #[error("{0}")]
    Forbidden(String),
}

impl From<AuthError> for ScimError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => {
                ScimError::Unauthorized("invalid or revoked bearer token".into())
            }
            AuthError::Forbidden(m) => ScimError::Forbidden(m),
        }
    }
}

/// Turns a bearer token into the [`Principal`] it belongs to.
///
/// Implementations must compare secrets in constant time and never log them.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Authenticates `token` (the part after `Bearer `).
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError>;
}

/// Extracts the bearer token from the `Authorization` header (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ScimError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or_else(|| {
        ScimError::Unauthorized("missing Authorization header with a bearer token".into())
    })?;
    if values.next().is_some() {
        return Err(ScimError::Unauthorized(
            "more than one Authorization header".into(),
        ));
    }
    let malformed = || ScimError::Unauthorized("Authorization header is not a bearer token".into());
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Generates a random API key secret: `scimkit_` followed by 64 hex digits drawn from
/// two version-4 UUIDs (244 random bits, from the operating system's generator).
pub fn generate_key() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("scimkit_{a}{b}")
}

/// A fixed set of bearer keys, each mapped to a principal. Enough for one-tenant
/// deployments, tests and the example server; named, revocable keys stored hashed are
/// the job of a key store.
#[derive(Clone, Default)]
pub struct StaticKeyAuthenticator {
    keys: Vec<(Vec<u8>, Principal)>,
}

impl std::fmt::Debug for StaticKeyAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKeyAuthenticator")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl StaticKeyAuthenticator {
    /// An authenticator accepting no key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `key` for `principal`.
    pub fn with_key(mut self, key: impl Into<String>, principal: Principal) -> Self {
        self.keys.push((key.into().into_bytes(), principal));
        self
    }
}

#[async_trait]
impl Authenticator for StaticKeyAuthenticator {
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        // Check every key so the time taken does not depend on which one matched.
        let mut found = None;
        for (key, principal) in &self.keys {
            if constant_time_eq(key, token.as_bytes()) && found.is_none() {
                found = Some(principal.clone());
            }
        }
        found.ok_or(AuthError::InvalidCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(v).unwrap(),
        );
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(&headers("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&headers("bearer  abc ")).unwrap(), "abc");
        assert!(bearer_token(&headers("Basic dXNlcjpwYXNz")).is_err());
        assert!(bearer_token(&headers("Bearer")).is_err());
        assert!(bearer_token(&headers("Bearer ")).is_err());
        assert!(bearer_token(&HeaderMap::new()).is_err());
    }

    #[test]
    fn generated_keys_are_distinct_and_prefixed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with("scimkit_") && a.len() == 8 + 64);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
