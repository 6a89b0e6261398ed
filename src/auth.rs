//! Bearer authentication: `Authorization: Bearer <key>` → [`Principal`].
//!
//! The [`Authenticator`] trait turns a token into a principal. [`crate::keys::ApiKeys`] is
//! the implementation for products (named keys per tenant, stored hashed, revocable,
//! gated by the tenant's SCIM switches); [`StaticKeyAuthenticator`] is a fixed list for
//! tests and single-tenant setups.
//!
//! Every refusal of credentials looks the same on the wire: one 401 body
//! ([`UNAUTHORIZED_DETAIL`]) with `WWW-Authenticate: Bearer realm="SCIM",
//! error="invalid_token"`, whether the header was missing, of another scheme, or the key
//! malformed, unknown, revoked or expired.

use async_trait::async_trait;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::context::Principal;
use crate::error::ScimError;

/// The `detail` of every 401: it does not say what was wrong.
pub const UNAUTHORIZED_DETAIL: &str = "a valid bearer token is required";

/// Why a credential was refused. Rendered as 401 (or 403) without revealing which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The key is missing, malformed, unknown, revoked or expired: 401.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The key is valid but SCIM is switched off for its tenant: 403 with this detail.
    #[error("{0}")]
    Forbidden(String),
    /// The credentials could not be checked (a store failed; the cause is logged): 500.
    #[error("credentials could not be checked")]
    Internal,
}

impl AuthError {
    /// The SCIM error of this refusal for the request `request_id`: 401 with
    /// [`UNAUTHORIZED_DETAIL`], 403 with the reason, or a 500 naming the request.
    pub fn into_scim_error(self, request_id: &str) -> ScimError {
        match self {
            AuthError::InvalidCredentials => ScimError::Unauthorized(UNAUTHORIZED_DETAIL.into()),
            AuthError::Forbidden(m) => ScimError::Forbidden(m),
            AuthError::Internal => ScimError::Internal {
                request_id: request_id.to_owned(),
            },
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
///
/// Every failure is the same [`ScimError::Unauthorized`] ([`UNAUTHORIZED_DETAIL`]); the
/// reason goes to `tracing` at debug level, without the header's value.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, ScimError> {
    let refuse = |reason: &'static str| {
        tracing::debug!(reason, "no usable bearer token");
        ScimError::Unauthorized(UNAUTHORIZED_DETAIL.into())
    };
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values
        .next()
        .ok_or_else(|| refuse("no Authorization header"))?;
    if values.next().is_some() {
        return Err(refuse("more than one Authorization header"));
    }
    let malformed = || refuse("the Authorization header is not a bearer token");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

/// A fixed set of bearer keys, each mapped to a principal, kept in memory as given. Enough
/// for tests and one-tenant deployments; named, revocable keys stored hashed, with tenant
/// switches, are [`crate::keys::ApiKeys`].
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
            if bool::from(key.as_slice().ct_eq(token.as_bytes())) && found.is_none() {
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
    fn every_header_problem_is_the_same_error() {
        let mut two = headers("Bearer a");
        two.append(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer b"),
        );
        let errors = [
            bearer_token(&HeaderMap::new()).unwrap_err(),
            bearer_token(&headers("Basic dXNlcjpwYXNz")).unwrap_err(),
            bearer_token(&headers("Bearer ")).unwrap_err(),
            bearer_token(&headers("token")).unwrap_err(),
            bearer_token(&two).unwrap_err(),
            AuthError::InvalidCredentials.into_scim_error("r-1"),
        ];
        for e in errors {
            assert_eq!(e, ScimError::Unauthorized(UNAUTHORIZED_DETAIL.into()));
        }
    }
}
