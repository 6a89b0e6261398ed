//! The runnable product: a SCIM 2.0 server on axum, backed by the in-memory store.
//!
//! ```text
//! cargo run --example server                         # 127.0.0.1:8080, fresh API key
//! cargo run --example server -- --listen 127.0.0.1:0 --api-key "$KEY"
//! ```
//!
//! It prints the SCIM base URL to paste into the identity provider and the API key (the
//! bearer token). `SCIMKIT_LISTEN` and `SCIMKIT_API_KEY` set the same as the flags.
#![allow(clippy::expect_used)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use scimkit::{MemoryUserStore, Principal, ScimError, ScimServer, StaticKeyAuthenticator};

#[derive(Parser, Debug)]
#[command(about = "scimkit example SCIM 2.0 server")]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SCIMKIT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Accept this API key instead of generating one.
    #[arg(long, env = "SCIMKIT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The tenant (customer account) the API key belongs to.
    #[arg(long, env = "SCIMKIT_TENANT", default_value = "default")]
    tenant: String,
    /// Public URL of the SCIM API for `meta.location` (default: from the Host header).
    #[arg(long, env = "SCIMKIT_BASE_URL")]
    base_url: Option<String>,
}

/// The whole integration: read the body under the limit, call `handle`, convert back.
async fn scim(State(server): State<ScimServer>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, server.max_body_bytes()).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let e = ScimError::PayloadTooLarge(format!(
                "request body is larger than {} bytes",
                server.max_body_bytes()
            ));
            return e.to_response().map(Body::from).into_response();
        }
    };
    let response = server.handle(http::Request::from_parts(parts, bytes)).await;
    response.map(Body::from).into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let api_key = args.api_key.unwrap_or_else(scimkit::auth::generate_key);
    let auth =
        StaticKeyAuthenticator::new().with_key(&api_key, Principal::new(&args.tenant, "key-1"));
    let mut builder = ScimServer::builder()
        .base_path("/scim/v2")
        .store(MemoryUserStore::new())
        .authenticator(auth);
    if let Some(url) = &args.base_url {
        builder = builder.base_url(url);
    }
    let server = builder.build().expect("valid configuration");

    let app = Router::new().fallback(scim).with_state(server);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let base_url = args
        .base_url
        .unwrap_or_else(|| format!("http://{addr}/scim/v2"));
    println!("scimkit SCIM server listening on {addr}");
    println!("SCIM base URL: {base_url}");
    println!("API key (bearer token): {api_key}");
    println!("Try: curl -H 'Authorization: Bearer {api_key}' {base_url}/Users");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
