//! The console's responses: HTML pages for errors and refusals, redirects, cookies.

use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use scimkit::keys::AdminError;

use super::page;

pub(super) async fn not_found() -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        page::error("Not found", "There is no such page in the admin console."),
    )
}

pub(super) fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

pub(super) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => bad_request("Cannot go back to this page."),
    }
}

pub(super) fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// A request refused by the session, origin or CSRF checks: a 403 page saying why.
pub(super) struct Refused(pub(super) &'static str);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        forbidden(self.0)
    }
}

pub(super) fn forbidden(message: &str) -> Response {
    html_response(StatusCode::FORBIDDEN, page::error("Refused", message))
}

pub(super) fn bad_request(message: &str) -> Response {
    html_response(StatusCode::BAD_REQUEST, page::error("Bad request", message))
}

/// A user error (bad account id, ...) as a 400 page; a store failure as a 500 with the
/// cause logged, not shown.
pub(super) fn admin_error(e: AdminError) -> Response {
    match e {
        AdminError::Store(_) | AdminError::Randomness => {
            tracing::error!(error = %e, "admin console: operation failed");
            internal_error("The operation failed; the cause is in the server's log.")
        }
        e => bad_request(&format!("{e}.")),
    }
}

pub(super) fn internal_error(message: &str) -> Response {
    html_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        page::error("Something went wrong", message),
    )
}

pub(super) fn randomness_failed(e: &getrandom::Error) -> Response {
    tracing::error!(error = %e, "admin console: no randomness for a session or token");
    internal_error("No session could be started.")
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved characters).
pub(super) fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
