//! The same SCIM handler on actix-web.
//!
//! ```text
//! cargo run --example actix -- 127.0.0.1:8081
//! ```
#![allow(clippy::expect_used)]

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator};

/// The whole integration: scimkit's actix adapter (body under the limit, request id, a
/// panic ending only its request as a SCIM 500).
async fn scim(
    req: HttpRequest,
    payload: web::Payload,
    server: web::Data<ScimServer>,
) -> HttpResponse {
    scimkit::actix::respond(&server, &req, payload).await
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
