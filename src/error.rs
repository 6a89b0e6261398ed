//! SCIM errors (RFC 7644 §3.12) and the one place where they meet the wire; the errors of
//! a store ([`StoreError`]), which the server maps to SCIM errors in one function.

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::json;

use crate::schema::ERROR_SCHEMA;

/// The `scimType` detail error keywords of RFC 7644 §3.12 and RFC 9865.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScimType {
    /// The filter syntax is invalid or the filter is not supported.
    InvalidFilter,
    /// The filter yields more results than the server will return.
    TooMany,
    /// A value violates a uniqueness constraint (e.g. a taken `userName`).
    Uniqueness,
    /// An attempt to modify an attribute that cannot be modified.
    Mutability,
    /// The request body is not parsable or violates the schema.
    InvalidSyntax,
    /// A PATCH path is invalid.
    InvalidPath,
    /// A PATCH path or filter selected nothing to operate on.
    NoTarget,
    /// A value is missing, of the wrong type or not allowed.
    InvalidValue,
    /// The SCIM protocol version is not supported.
    InvalidVers,
    /// The request cannot be completed because it would reveal sensitive data in a URI.
    Sensitive,
    /// RFC 9865: the cursor is invalid.
    InvalidCursor,
    /// RFC 9865: the cursor has expired.
    ExpiredCursor,
}

impl ScimType {
    /// The keyword as it appears in the `scimType` member.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
            Self::InvalidCursor => "invalidCursor",
            Self::ExpiredCursor => "expiredCursor",
        }
    }
}

/// Every way a SCIM request can fail. [`ScimError::status`] and [`ScimError::scim_type`]
/// are decided in one `match` ([`ScimError::wire`]) and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScimError {
    /// 400 `invalidFilter`.
    #[error("{0}")]
    InvalidFilter(String),
    /// 400 `tooMany`.
    #[error("{0}")]
    TooMany(String),
    /// 409 `uniqueness`.
    #[error("{0}")]
    Uniqueness(String),
    /// 400 `mutability`.
    #[error("{0}")]
    Mutability(String),
    /// 400 `invalidSyntax`.
    #[error("{0}")]
    InvalidSyntax(String),
    /// 400 `invalidPath`.
    #[error("{0}")]
    InvalidPath(String),
    /// 400 `noTarget`.
    #[error("{0}")]
    NoTarget(String),
    /// 400 `invalidValue`.
    #[error("{0}")]
    InvalidValue(String),
    /// 400 `invalidVers`.
    #[error("{0}")]
    InvalidVersion(String),
    /// 403 `sensitive`.
    #[error("{0}")]
    Sensitive(String),
    /// 400 `invalidCursor` (RFC 9865).
    #[error("{0}")]
    InvalidCursor(String),
    /// 400 `expiredCursor` (RFC 9865).
    #[error("{0}")]
    ExpiredCursor(String),
    /// 401: missing, malformed or unknown credentials. Rendered with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource or endpoint.
    #[error("{0}")]
    NotFound(String),
    /// 405: the endpoint exists but not with this method. Carries the allowed methods.
    #[error("method not allowed; allowed: {allowed}")]
    MethodNotAllowed {
        /// Comma-separated allowed methods, as in the `Allow` header.
        allowed: &'static str,
    },
    /// 406: the client accepts no media type this server produces.
    #[error("{0}")]
    NotAcceptable(String),
    /// 409 without a `scimType`: a conflicting concurrent change that could not be resolved.
    #[error("{0}")]
    Conflict(String),
    /// 412: `If-Match` does not match the current version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the request body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the request body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: the API key sent more requests than its rate limit allows. Rendered with an
    /// integer `Retry-After` header.
    #[error("too many requests; retry after {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds until a request will be accepted again.
        retry_after_secs: u64,
    },
    /// 503: the request could not be served in time (an integration's request timeout)
    /// or the service is temporarily unavailable.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// 501: a SCIM feature this server does not offer (groups, bulk, `/Me`).
    #[error("{0}")]
    NotImplemented(String),
    /// 500: an internal or store failure. The detail is generic; the cause went to `tracing`.
    #[error("internal server error (request id {request_id})")]
    Internal {
        /// The request id, for correlating with logs.
        request_id: String,
    },
}

impl ScimError {
    /// The HTTP status and `scimType` of this error: the only place they are chosen.
    pub fn wire(&self) -> (StatusCode, Option<ScimType>) {
        use ScimType as T;
        use StatusCode as S;
        match self {
            Self::InvalidFilter(_) => (S::BAD_REQUEST, Some(T::InvalidFilter)),
            Self::TooMany(_) => (S::BAD_REQUEST, Some(T::TooMany)),
            Self::Uniqueness(_) => (S::CONFLICT, Some(T::Uniqueness)),
            Self::Mutability(_) => (S::BAD_REQUEST, Some(T::Mutability)),
            Self::InvalidSyntax(_) => (S::BAD_REQUEST, Some(T::InvalidSyntax)),
            Self::InvalidPath(_) => (S::BAD_REQUEST, Some(T::InvalidPath)),
            Self::NoTarget(_) => (S::BAD_REQUEST, Some(T::NoTarget)),
            Self::InvalidValue(_) => (S::BAD_REQUEST, Some(T::InvalidValue)),
            Self::InvalidVersion(_) => (S::BAD_REQUEST, Some(T::InvalidVers)),
            Self::Sensitive(_) => (S::FORBIDDEN, Some(T::Sensitive)),
            Self::InvalidCursor(_) => (S::BAD_REQUEST, Some(T::InvalidCursor)),
            Self::ExpiredCursor(_) => (S::BAD_REQUEST, Some(T::ExpiredCursor)),
            Self::Unauthorized(_) => (S::UNAUTHORIZED, None),
            Self::Forbidden(_) => (S::FORBIDDEN, None),
            Self::NotFound(_) => (S::NOT_FOUND, None),
            Self::MethodNotAllowed { .. } => (S::METHOD_NOT_ALLOWED, None),
            Self::NotAcceptable(_) => (S::NOT_ACCEPTABLE, None),
            Self::Conflict(_) => (S::CONFLICT, None),
            Self::PreconditionFailed(_) => (S::PRECONDITION_FAILED, None),
            Self::PayloadTooLarge(_) => (S::PAYLOAD_TOO_LARGE, None),
            Self::UnsupportedMediaType(_) => (S::UNSUPPORTED_MEDIA_TYPE, None),
            Self::TooManyRequests { .. } => (S::TOO_MANY_REQUESTS, None),
            Self::NotImplemented(_) => (S::NOT_IMPLEMENTED, None),
            Self::ServiceUnavailable(_) => (S::SERVICE_UNAVAILABLE, None),
            Self::Internal { .. } => (S::INTERNAL_SERVER_ERROR, None),
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> StatusCode {
        self.wire().0
    }

    /// The `scimType`, if the error has one.
    pub fn scim_type(&self) -> Option<ScimType> {
        self.wire().1
    }

    /// The SCIM Error message body (RFC 7644 §3.12): `status` is a string.
    pub fn to_json(&self) -> serde_json::Value {
        let (status, scim_type) = self.wire();
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": status.as_u16().to_string(),
            "detail": self.to_string(),
        });
        if let (Some(t), Some(obj)) = (scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), t.as_str().into());
        }
        body
    }

    /// The complete HTTP response for this error.
    pub fn to_response(&self) -> Response<Vec<u8>> {
        let (status, _) = self.wire();
        let body = serde_json::to_vec(&self.to_json()).unwrap_or_default();
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::SCIM_CONTENT_TYPE),
        );
        match self {
            Self::Unauthorized(_) => {
                // RFC 6750 §3: the same challenge for every 401, whatever was wrong.
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"SCIM\", error=\"invalid_token\""),
                );
            }
            Self::MethodNotAllowed { allowed } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
            }
            Self::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        resp
    }
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No resource with that id in this tenant.
    #[error("resource not found")]
    NotFound,
    /// A uniqueness constraint was violated; names the attribute (e.g. `userName`).
    #[error("{attribute} is already taken")]
    Uniqueness {
        /// The attribute whose value is taken.
        attribute: String,
    },
    /// The expected version did not match the stored one.
    #[error("version mismatch")]
    VersionMismatch,
    /// The store cannot serve this filter.
    #[error("filter not supported by this store: {0}")]
    InvalidFilter(String),
    /// Any other failure (I/O, database). Never shown to clients.
    #[error("store backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_status_as_string_and_scim_type() {
        let e = ScimError::Uniqueness("userName \"bjensen\" is already taken".into());
        let body = e.to_json();
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        let resp = e.to_response();
        assert_eq!(resp.status(), 409);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            crate::SCIM_CONTENT_TYPE
        );
    }

    #[test]
    fn unauthorized_carries_www_authenticate_bearer() {
        let resp = ScimError::Unauthorized("missing credentials".into()).to_response();
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"SCIM\", error=\"invalid_token\""
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn timeouts_are_503_and_rate_limits_429_with_retry_after() {
        let e = ScimError::ServiceUnavailable("slow".into());
        assert_eq!((e.status().as_u16(), e.scim_type()), (503, None));
        let r = ScimError::TooManyRequests {
            retry_after_secs: 7,
        }
        .to_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn internal_error_detail_is_generic() {
        let e = ScimError::Internal {
            request_id: "r-1".into(),
        };
        assert_eq!(e.status(), 500);
        assert_eq!(
            e.to_json()["detail"],
            "internal server error (request id r-1)"
        );
    }
}
