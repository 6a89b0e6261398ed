//! The same SCIM handler on actix-web.
//!
//! ```text
//! cargo run --example actix -- 127.0.0.1:8081
//! ```
#![allow(clippy::expect_used)]

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use scimkit::{MemoryUserStore, Principal, ScimError, ScimServer, StaticKeyAuthenticator};

/// Converts an `http::Response` (http 1.x) into an actix response (http 0.2 types).
fn to_actix(resp: http::Response<Vec<u8>>) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(resp.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::build(status);
    for (name, value) in resp.headers() {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    out.body(resp.into_body())
}

/// The whole integration: read the body under the limit, call `handle`, convert back.
async fn scim(
    req: HttpRequest,
    mut payload: web::Payload,
    server: web::Data<ScimServer>,
) -> HttpResponse {
    let limit = server.max_body_bytes();
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) if body.len() + chunk.len() <= limit => body.extend_from_slice(&chunk),
            _ => {
                let e = ScimError::PayloadTooLarge(format!(
                    "request body is larger than {limit} bytes"
                ));
                return to_actix(e.to_response());
            }
        }
    }
    let mut builder = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    match builder.body(body) {
        Ok(request) => to_actix(server.handle(request).await),
        Err(_) => to_actix(ScimError::InvalidSyntax("malformed request".into()).to_response()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    // An operator's key is never printed (it would end up in whatever collects the logs);
    // a key generated here is, once, for the person who started the example.
    let (api_key, supplied) = match std::env::var("SCIMKIT_API_KEY") {
        Ok(key) => (key, true),
        Err(_) => {
            let secret = scimkit::keys::generate_secret().map_err(std::io::Error::other)?;
            (secret.expose().to_owned(), false)
        }
    };
    let server = ScimServer::builder()
        .store(MemoryUserStore::new())
        .authenticator(
            StaticKeyAuthenticator::new().with_key(&api_key, Principal::new("default", "key-1")),
        )
        .build()
        .expect("valid configuration");
    let http = HttpServer::new({
        let server = web::Data::new(server);
        move || {
            App::new()
                .app_data(server.clone())
                .default_service(web::to(scim))
        }
    })
    .workers(2)
    .bind(&listen)?;
    for addr in http.addrs() {
        println!("SCIM base URL: http://{addr}/scim/v2");
    }
    if supplied {
        println!("API key (bearer token): as given by SCIMKIT_API_KEY");
    } else {
        println!("API key (bearer token): {api_key}");
    }
    http.run().await
}
