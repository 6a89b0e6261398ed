//! The limit of `bench/load.sh`: a bare axum server, in a process of its own, that answers
//! the load test's requests with the bytes the SCIM server would send, and does no SCIM
//! work at all — no authentication, no parsing, no store, no timeout layer, no task per
//! request, no panic catching.
//!
//! ```sh
//! cargo run --release --example limit -- --get-body user.json --list-body list.json
//! ```
//!
//! - `GET` of a path without a query string answers the bytes of `--get-body` (a user as
//!   `GET /Users/{id}` renders it); `GET` with a query string answers `--list-body` (a
//!   `ListResponse` as `GET /Users?filter=...` renders it).
//! - `POST` and `PATCH` read the whole body and echo it back (a SCIM server answers a
//!   write with the resource, about as large as what it was sent), `POST` with 201.
//!
//! It runs on the same runtime, allocator and HTTP stack as the example server
//! (`examples/server`), so that the ratio of the two measures what SCIM costs: the limit
//! is what the same machine does with the same bytes and nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use http::{Method, StatusCode, header};

/// The limit server of `bench/load.sh`.
#[derive(Parser)]
struct Args {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The bytes a `GET` without a query string answers.
    #[arg(long)]
    get_body: PathBuf,
    /// The bytes a `GET` with a query string answers.
    #[arg(long)]
    list_body: PathBuf,
}

/// The bodies, read once at start.
#[derive(Clone)]
struct Bodies {
    get: Bytes,
    list: Bytes,
}

/// The example server's allocator, so that both sides of the ratio allocate alike.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SCIM_JSON: &str = "application/scim+json";

async fn answer(State(bodies): State<Bodies>, req: Request) -> Response {
    let method = req.method().clone();
    let has_query = req.uri().query().is_some();
    if method == Method::GET {
        let body = if has_query { &bodies.list } else { &bodies.get };
        return ([(header::CONTENT_TYPE, SCIM_JSON)], body.clone()).into_response();
    }
    // The same body limit as the example server's default.
    match axum::body::to_bytes(req.into_body(), 1024 * 1024).await {
        Ok(bytes) => {
            let status = if method == Method::POST {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                [(header::CONTENT_TYPE, SCIM_JSON)],
                Body::from(bytes),
            )
                .into_response()
        }
        Err(_) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let bodies = Bodies {
        get: Bytes::from(std::fs::read(&args.get_body)?),
        list: Bytes::from(std::fs::read(&args.list_body)?),
    };
    let app = axum::Router::new().fallback(answer).with_state(bodies);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    // The line bench/common.sh waits for, in the example server's format.
    println!("SCIM base URL: http://{}/scim/v2", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
