//! actix-web integration (feature `actix`): [`respond`] answers one actix request with a
//! [`ScimServer`], under the same contract as [`ScimService`](crate::service) on tower
//! stacks (actix is not tower-based):
//!
//! - the body is read under [`Config::max_body_bytes`](crate::Config::max_body_bytes); a
//!   longer one is refused with a SCIM 413 before it is all read, a body that fails to
//!   arrive with a SCIM 400;
//! - every request gets an `X-Request-Id` (the client's when it sent a usable one), which
//!   the response carries and every log line of the request names;
//! - a panic in [`ScimServer::handle`] ends only its request, as a SCIM 500 naming the
//!   request id;
//! - request and response headers pass both ways unchanged (actix-web 4 speaks `http`
//!   0.2; scimkit `http` 1: they are converted here).
//!
//! ```no_run
//! use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
//! use scimkit::ScimServer;
//!
//! async fn scim(req: HttpRequest, body: web::Payload, server: web::Data<ScimServer>) -> HttpResponse {
//!     scimkit::actix::respond(&server, &req, body).await
//! }
//!
//! # async fn demo(server: ScimServer) -> std::io::Result<()> {
//! let server = web::Data::new(server);
//! HttpServer::new(move || App::new().app_data(server.clone()).default_service(web::to(scim)))
//!     .bind("127.0.0.1:8081")?
//!     .run()
//!     .await
//! # }
//! ```

use actix_web::web::Payload;
use actix_web::{HttpRequest, HttpResponse};

use crate::ScimServer;
use crate::error::ScimError;
use crate::server::request_id;

/// Answers `req` (its body still in `payload`) with `server`: see the
/// [module](self) documentation.
pub async fn respond(server: &ScimServer, req: &HttpRequest, payload: Payload) -> HttpResponse {
    let mut headers = http::HeaderMap::with_capacity(req.headers().len() + 1);
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    // The id is fixed here, so that a refusal made here and a panic name it too.
    let id = request_id(&headers);
    let Ok(id_header) = http::HeaderValue::try_from(id.as_str()) else {
        return to_actix(
            ScimError::Internal {
                request_id: id.clone(),
            }
            .to_response(),
            &id,
        );
    };
    headers.insert(crate::server::X_REQUEST_ID, id_header);
    let limit = server.max_body_bytes();
    let body = match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => body,
        Err(_) => {
            let e =
                ScimError::PayloadTooLarge(format!("request body is larger than {limit} bytes"));
            return to_actix(e.to_response(), &id);
        }
        Ok(Err(e)) => {
            tracing::debug!(request_id = %id, error = %e, "request body could not be read");
            let e = ScimError::InvalidSyntax("the request body could not be read".into());
            return to_actix(e.to_response(), &id);
        }
    };
    let request = http::Request::builder()
        .method(req.method().as_str().as_bytes())
        .uri(req.uri().to_string())
        .body(body);
    let mut request = match request {
        Ok(request) => request,
        Err(_) => {
            let e = ScimError::InvalidSyntax("the request line could not be read".into());
            return to_actix(e.to_response(), &id);
        }
    };
    *request.headers_mut() = headers;
    to_actix(server.handle_caught(request, &id).await, &id)
}

/// An `http` 1 response as an actix one, with the request id.
fn to_actix(resp: http::Response<Vec<u8>>, id: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(resp.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::build(status);
    let mut has_id = false;
    for (name, value) in resp.headers() {
        has_id |= name == crate::server::X_REQUEST_ID;
        out.append_header((name.as_str(), value.as_bytes()));
    }
    if !has_id {
        out.insert_header((crate::server::X_REQUEST_ID.as_str(), id));
    }
    out.body(resp.into_body())
}
