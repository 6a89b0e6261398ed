//! [`ScimService`]: a [`ScimServer`] as a [`tower_service::Service`] (feature `tower`), the
//! one-line integration for axum, hyper and other tower-based stacks.
//!
//! ```no_run
//! # async fn demo(server: scimkit::ScimServer) -> std::io::Result<()> {
//! // axum: everything under /scim/v2 is SCIM (nested: axum strips the prefix, and the
//! // service takes a path without its base path as one under it).
//! let app = axum::Router::new().nest_service("/scim/v2", server.into_service());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! What the service does, the contract of every scimkit integration (the actix-web example
//! does the same by hand):
//!
//! - reads the body under [`Config::max_body_bytes`](crate::Config::max_body_bytes); a
//!   longer body is refused with a SCIM 413 before it is all read, a body that fails to
//!   arrive with a SCIM 400;
//! - gives every request an `X-Request-Id` (the client's when it sent a usable one), which
//!   the response carries and every log line of the request names;
//! - runs [`ScimServer::handle`] catching a panic, which then ends only its request, as a
//!   SCIM 500 naming the request id;
//! - answers `application/scim+json` with a [`Full`] body; the service is always ready and
//!   never fails (its error type is [`Infallible`]).
//!
//! Timeouts, concurrency limits and load shedding are left to tower's own layers
//! (`tower::timeout`, `tower_http::timeout`, ...), which compose with it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};

use crate::ScimServer;
use crate::error::ScimError;
use crate::server::{X_REQUEST_ID, request_id};

/// A [`ScimServer`] as a [`tower_service::Service`]: see the [module](self) documentation.
/// Cheap to clone (the server is shared).
#[derive(Clone, Debug)]
pub struct ScimService {
    server: ScimServer,
}

impl ScimService {
    /// The service answering with `server`.
    pub fn new(server: ScimServer) -> Self {
        Self { server }
    }

    /// The server it answers with.
    pub fn server(&self) -> &ScimServer {
        &self.server
    }

    /// Answers one request as [`Service::call`](tower_service::Service::call) does,
    /// without the trait: for a handler that wraps it (in a timeout, say).
    pub async fn serve<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        serve(self.server.clone(), req).await.map(Full::new)
    }
}

impl ScimServer {
    /// This server as a [`tower_service::Service`] (feature `tower`): mount it in axum with
    /// `Router::new().nest_service("/scim/v2", server.into_service())`.
    pub fn into_service(self) -> ScimService {
        ScimService::new(self)
    }
}

/// The future of [`ScimService`]'s [`Service::call`](tower_service::Service::call).
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

impl<B> tower_service::Service<Request<B>> for ScimService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let server = self.server.clone();
        Box::pin(async move { Ok(serve(server, req).await.map(Full::new)) })
    }
}

/// One request through `server`, as the module documentation says.
async fn serve<B>(server: ScimServer, req: Request<B>) -> Response<Bytes>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut parts, body) = req.into_parts();
    // The id is fixed here, so that a refusal made here and a panic name it too.
    let id = request_id(&parts.headers);
    let Ok(id_header) = HeaderValue::try_from(id.as_str()) else {
        return finish(
            ScimError::Internal {
                request_id: id.clone(),
            }
            .to_response(),
            &id,
        );
    };
    parts.headers.insert(X_REQUEST_ID, id_header);
    let limit = server.max_body_bytes();
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            let e =
                ScimError::PayloadTooLarge(format!("request body is larger than {limit} bytes"));
            return finish(e.to_response(), &id);
        }
        Err(e) => {
            tracing::debug!(request_id = %id, error = %e, "request body could not be read");
            let e = ScimError::InvalidSyntax("the request body could not be read".into());
            return finish(e.to_response(), &id);
        }
    };
    let request = Request::from_parts(parts, bytes);
    server.handle_caught(request, &id).await.map(Bytes::from)
}

/// A response the service made itself (not `handle`), with the request id.
fn finish(response: Response<Vec<u8>>, id: &str) -> Response<Bytes> {
    let mut response = response.map(Bytes::from);
    if let Ok(v) = HeaderValue::try_from(id) {
        response.headers_mut().insert(X_REQUEST_ID, v);
    }
    response
}
