//! The runnable product: a SCIM 2.0 server on axum, with API keys and tenant switches
//! ([`scimkit::keys`]) and users in memory.
//!
//! ```text
//! cargo run --example server                         # 127.0.0.1:8080, fresh API key
//! cargo run --example server -- --listen 127.0.0.1:0 --api-key "$KEY"
//! cargo run --example server -- serve --tenant acme  # `serve` is the default command
//! ```
//!
//! On start it makes the tenant (`--tenant`, default `default`) entitled and switched on,
//! and creates an API key for it, or registers the pre-shared `--api-key`. It prints the
//! SCIM base URL to paste into the identity provider and the API key (the bearer token).
//! `SCIMKIT_LISTEN`, `SCIMKIT_API_KEY`, `SCIMKIT_TENANT` and `SCIMKIT_BASE_URL` set the
//! same as the flags.
//!
//! The stores live in memory, so keys and switches last as long as the process. Admin
//! commands (`keys create|list|revoke`, `tenants enable|disable`, entitlement) need a
//! store that outlives it and come with the SQLite store, as more variants of [`Command`].

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use clap::{Args, Parser, Subcommand};
use scimkit::keys::{ApiKeys, MemoryApiKeyStore, MemoryTenantStore, Tenants};
use scimkit::{MemoryUserStore, ScimError, ScimServer};

#[derive(Parser, Debug)]
#[command(
    about = "scimkit example SCIM 2.0 server",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of `serve`, the default command.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the SCIM server (the default when no command is given).
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SCIMKIT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Accept this pre-shared API key instead of creating one.
    #[arg(long, env = "SCIMKIT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The tenant (customer account) the API key belongs to.
    #[arg(long, env = "SCIMKIT_TENANT", default_value = "default")]
    tenant: String,
    /// Public URL of the SCIM API for `meta.location` (default: from the Host header).
    #[arg(long, env = "SCIMKIT_BASE_URL")]
    base_url: Option<String>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(args).await,
        None => serve(cli.serve).await,
    }
}

async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let base_url = args
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/scim/v2"));

    let tenants = Tenants::new(MemoryTenantStore::new()).with_public_url(&base_url);
    let keys = ApiKeys::new(MemoryApiKeyStore::new(), tenants.clone());
    tenants.set_scim_entitled(&args.tenant, true).await?;
    tenants.set_scim_enabled(&args.tenant, true).await?;
    let api_key = match &args.api_key {
        Some(key) => {
            keys.import(&args.tenant, "pre-shared (--api-key)", key, None)
                .await?;
            key.clone()
        }
        None => {
            let new = keys.create(&args.tenant, "created at start", None).await?;
            new.secret.expose().to_owned()
        }
    };

    let mut builder = ScimServer::builder()
        .base_path("/scim/v2")
        .store(MemoryUserStore::new())
        .authenticator(keys);
    if let Some(url) = &args.base_url {
        builder = builder.base_url(url);
    }
    let server = builder.build()?;
    let app = Router::new().fallback(scim).with_state(server);

    let api_url = tenants.api_url(&args.tenant).unwrap_or(base_url);
    println!("scimkit SCIM server listening on {addr}");
    println!("SCIM base URL: {api_url}");
    println!("API key (bearer token): {api_key}");
    println!("Try: curl -H 'Authorization: Bearer {api_key}' {api_url}/Users");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
