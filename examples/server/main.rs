//! The runnable product: a SCIM 2.0 server on axum, with named API keys, the tenant
//! switches, provisioning events and a persistent store — SQLite by default.
//!
//! ```text
//! cargo run --example server                          # 127.0.0.1:8080, scimkit-example.db, fresh API key
//! cargo run --example server -- --listen 127.0.0.1:0 --api-key "$KEY" --database memory
//! cargo run --example server -- keys create --tenant acme --name "Okta"
//! cargo run --example server -- keys list
//! cargo run --example server -- keys revoke --tenant acme KEY_ID
//! cargo run --example server -- tenants entitle acme      # the vendor's entitlement
//! cargo run --example server -- tenants enable acme       # the account admin's switch
//! cargo run --example server -- import users.csv --tenant acme [--dry-run]
//! cargo run --example server -- export --tenant acme > users.csv
//! ```
//!
//! `--database` (`SCIMKIT_DATABASE_URL`) is `memory`, a SQLite file (default
//! `scimkit-example.db`) or a `postgres://` URL; every command works on it.
//!
//! `serve` (the default command) makes its tenant (`--tenant`, default `default`)
//! entitled and switched on when the tenant is new (an existing tenant keeps its
//! switches), and creates an API key for it, or registers the pre-shared `--api-key`. It
//! prints the SCIM base URL to paste into the identity provider and the key it created
//! (never an operator's `--api-key`). The key a start creates replaces the previous
//! start's: for an identity provider, create a lasting key with `keys create`. `SCIMKIT_LISTEN`, `SCIMKIT_API_KEY`, `SCIMKIT_TENANT` and `SCIMKIT_BASE_URL` set
//! the same as the flags. Provisioning events are logged as they are delivered.
//!
//! It also serves the admin console at `/admin` (`console.rs`): the SCIM switch, the API
//! URL, API keys and CSV upload for an account, in a browser, behind a password printed
//! at start (a fresh one each time, or `--admin-password` / `SCIMKIT_ADMIN_PASSWORD`).
//!
//! With `--metrics` it serves scimkit's metrics in the Prometheus text format at
//! `/metrics` (`prometheus.rs`), or with `--metrics-listen ADDR` on an address of their own;
//! `--metrics-tenant-labels N` labels them with the tenant, for the first N tenants.
//!
//! With `--groups` (`SCIMKIT_GROUPS`) it serves the Group resource for identity providers
//! that push groups, and the console lists each account's groups read-only; off by
//! default, as the product has no groups.

mod admin;
mod console;
mod prometheus;
mod stores;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use clap::{Args, Parser, Subcommand};
use scimkit::events::{EventDispatcher, EventSink, ProvisioningEvent};
use scimkit::{Authenticator, ScimError, ScimServer, ScimService};

/// Errors of the example, boxed.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "scimkit example SCIM 2.0 server")]
struct Cli {
    /// `memory`, a SQLite file path (or `sqlite://PATH`), or a `postgres://` URL.
    #[arg(
        long,
        alias = "database-url",
        global = true,
        env = "SCIMKIT_DATABASE_URL",
        default_value = "scimkit-example.db"
    )]
    database: String,
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
    /// API keys: create (the secret is shown once), list, revoke.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Tenants and their two switches: the vendor's entitlement, the admin's SCIM switch.
    #[command(subcommand)]
    Tenants(admin::TenantsCommand),
    /// Imports users from a CSV file (upsert by userName).
    Import {
        /// The CSV file (a header row, then one user per row).
        file: String,
        /// The tenant to import into.
        #[arg(long)]
        tenant: String,
        /// Validate and report without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Writes a tenant's users as CSV to standard output.
    Export {
        /// The tenant to export.
        #[arg(long)]
        tenant: String,
    },
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
    /// How long one request may take, body included, before it gets a 503.
    #[arg(long, env = "SCIMKIT_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// The admin console's password (default: a fresh random one, printed at start).
    #[arg(long, env = "SCIMKIT_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Do not deliver provisioning events (in a database they stay in the outbox for a
    /// later run; in memory none are recorded).
    #[arg(long, env = "SCIMKIT_NO_EVENTS")]
    no_events: bool,
    /// Serve metrics in the Prometheus text format at `/metrics` on the listen address.
    #[arg(long, env = "SCIMKIT_METRICS")]
    metrics: bool,
    /// Serve `/metrics` on this address of its own instead (one only the monitoring
    /// network reaches, say); implies `--metrics`. Port 0 picks a free port.
    #[arg(long, env = "SCIMKIT_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Label metrics with the tenant, for the first N tenants seen (later ones share the
    /// label `other`); 0, the default, labels none.
    #[arg(long, env = "SCIMKIT_METRICS_TENANT_LABELS", default_value_t = 0)]
    metrics_tenant_labels: usize,
    /// Serve the Group resource (`/Groups`) for identity providers that push groups; off
    /// by default (the product has no groups: `/Groups` lists none, writes get 501).
    #[arg(long, env = "SCIMKIT_GROUPS")]
    groups: bool,
}

/// What the SCIM route needs: scimkit's tower service and how long a request may take.
#[derive(Clone)]
struct App {
    scim: ScimService,
    request_timeout: Duration,
}

/// The whole integration: scimkit's service (body under the limit, request id, a panic
/// ending only its request as a SCIM 500) within the request timeout (a slow client or
/// store gets a SCIM 503). Without the timeout it would be one line:
/// `Router::new().nest_service("/scim/v2", server.into_service())`.
async fn scim(State(app): State<App>, req: Request) -> Response {
    let limit = app.request_timeout;
    match tokio::time::timeout(limit, app.scim.serve(req)).await {
        Ok(response) => response.into_response(),
        Err(_) => {
            let e = ScimError::ServiceUnavailable(format!(
                "the request took longer than {} s",
                limit.as_secs()
            ));
            e.to_response().map(Body::from).into_response()
        }
    }
}

/// The API key a start announces.
enum StartKey {
    /// The operator's own (`--api-key`): registered, never printed.
    Supplied,
    /// Created by this start for convenience: printed once.
    Created(String),
}

/// The name of the key a start creates; the previous start's key has it too.
const START_KEY_PREFIX: &str = "created at start ";

/// Creates this start's convenience key for `tenant` and revokes the keys earlier starts
/// created (by their name), so that at most one such key is live: a key printed into a
/// log does not outlive the process that printed it by more than one restart. Keys an
/// admin created (`keys create`, the console) are left alone.
async fn start_key(keys: &scimkit::keys::ApiKeys, tenant: &str) -> Result<String, BoxError> {
    for old in keys.list(tenant).await? {
        if old.revoked_at.is_none() && old.name.starts_with(START_KEY_PREFIX) {
            keys.revoke(tenant, &old.id).await?;
        }
    }
    let name = format!(
        "{START_KEY_PREFIX}{}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")
    );
    Ok(keys
        .create(tenant, &name, None)
        .await?
        .secret
        .expose()
        .to_owned())
}

/// Logs provisioning events: where a product would enrol, welcome or audit.
struct LogEvents;

#[async_trait::async_trait]
impl EventSink for LogEvents {
    async fn deliver(&self, e: &ProvisioningEvent) -> Result<(), BoxError> {
        tracing::info!(
            id = e.id, tenant = %e.tenant, resource = e.kind.resource_type(),
            name = %e.resource_name, resource_id = %e.resource_id, key = %e.key_id,
            request_id = %e.request_id, kind = ?e.kind, "provisioning event"
        );
        Ok(())
    }
}

/// A request allocates and frees many small objects (the parsed body, the user, the
/// response); mimalloc serves that pattern faster than the system allocator, as it does
/// for many Rust servers. scimkit itself does not depend on an allocator.
///
/// Built without transparent huge pages (mimalloc's `no_thp` feature, in Cargo.toml): a
/// store that grows with every POST would otherwise fault its memory in 2 MiB at a time,
/// zeroing each huge page inside the request that first touches it. On the virtual
/// machine of BENCHMARKS.md that cost POST a fifth of its CPU and pushed its p99 latency
/// to tens of milliseconds; with 4 KiB pages the same growth is spread thinly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Whether this process delivers provisioning events (admin commands leave theirs to
    // a running server).
    let events = match &cli.command {
        None => !cli.serve.no_events,
        Some(Command::Serve(args)) => !args.no_events,
        Some(_) => true,
    };
    let stores = stores::open(&cli.database, events).await?;
    match cli.command {
        None => serve(stores, cli.serve).await,
        Some(Command::Serve(args)) => serve(stores, args).await,
        Some(Command::Keys(cmd)) => admin::keys(&stores, cmd).await,
        Some(Command::Tenants(cmd)) => admin::tenants(&stores, cmd).await,
        Some(Command::Import {
            file,
            tenant,
            dry_run,
        }) => admin::import(&stores, &file, &tenant, dry_run).await,
        Some(Command::Export { tenant }) => admin::export(&stores, &tenant).await,
    }
}

async fn serve(stores: stores::Stores, args: ServeArgs) -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let base_url = args
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/scim/v2"));

    let (keys, tenants) = stores.admin(&base_url);
    // Quick start: a tenant this start creates is entitled and switched on. A tenant that
    // exists keeps its switches: the vendor's and the account admin's decisions outlive a
    // restart.
    let tenant_is_new = tenants.list().await?.iter().all(|t| t.id != args.tenant);
    if tenant_is_new {
        tenants.set_scim_entitled(&args.tenant, true).await?;
        tenants.set_scim_enabled(&args.tenant, true).await?;
    }
    let api_key = match &args.api_key {
        Some(key) => {
            // On a persistent database the key may be registered already.
            match keys.authenticate(key).await {
                Ok(p) if *p.tenant != *args.tenant => {
                    return Err(format!(
                        "--api-key is already registered for tenant {:?}, not {:?}",
                        p.tenant, args.tenant
                    )
                    .into());
                }
                Ok(_) => {}
                // Registered, for a tenant whose SCIM is switched off (this one after
                // `tenants disable`, say): keep it as it is.
                Err(scimkit::AuthError::Forbidden(_)) => {}
                Err(_) => {
                    keys.import(&args.tenant, "pre-shared (--api-key)", key, None)
                        .await?;
                }
            }
            // The operator has the key: it is not echoed into the logs.
            StartKey::Supplied
        }
        None => StartKey::Created(start_key(&keys, &args.tenant).await?),
    };
    // The recorder first: the server describes its metrics to it when built.
    let metrics = match args.metrics || args.metrics_listen.is_some() {
        true => Some(prometheus::install()?),
        false => None,
    };
    let mut builder = ScimServer::builder()
        .base_path("/scim/v2")
        .shared_store(stores.users.clone())
        .authenticator(keys.clone())
        .metrics(metrics.is_some())
        .metrics_tenant_labels(args.metrics_tenant_labels);
    if args.groups {
        builder = builder.shared_groups(stores.groups());
    }
    if let Some(url) = &args.base_url {
        builder = builder.base_url(url);
    }
    let server = builder.build()?;

    // A password chosen by the operator is not echoed; a generated one must be.
    let (admin_password, shown) = match &args.admin_password {
        Some(p) if p.chars().count() < 12 => {
            return Err("--admin-password must be at least 12 characters long".into());
        }
        Some(p) => (p.clone(), "as set by --admin-password".to_owned()),
        None => {
            let p = console::random_password()?;
            (p.clone(), p)
        }
    };
    // The console's origin comes from the configuration, never from a request's Host.
    let console_origins = console::Origins::new(args.base_url.as_deref(), addr)?;
    let request_timeout = Duration::from_secs(args.request_timeout_secs.max(1));
    let console = console::Console::new(
        keys,
        tenants.clone(),
        server.clone(),
        &args.tenant,
        &admin_password,
        console_origins,
        request_timeout,
    )?;

    // Deliver provisioning events once a second, off the request path.
    if !args.no_events {
        let dispatcher = EventDispatcher::new(stores.outbox.clone(), Arc::new(LogEvents));
        tokio::spawn(async move {
            loop {
                if let Err(e) = dispatcher.run_once().await {
                    tracing::warn!(error = %e, "event delivery paused");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    let app = Router::new().fallback(scim).with_state(App {
        scim: server.into_service(),
        request_timeout,
    });
    let mut app = console.router().merge(app);
    // `/metrics` on the main listener, or on its own.
    let metrics_addr = match (metrics, args.metrics_listen) {
        (Some(handle), Some(listen)) => {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let metrics_addr = listener.local_addr()?;
            let router = prometheus::router(handle);
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
            Some(format!("http://{metrics_addr}"))
        }
        (Some(handle), None) => {
            app = app.merge(prometheus::router(handle));
            None
        }
        (None, _) => None,
    };

    let api_url = tenants.api_url(&args.tenant).unwrap_or(base_url);
    println!(
        "scimkit SCIM server listening on {addr} (users {})",
        stores.description
    );
    println!("SCIM base URL: {api_url}");
    match &api_key {
        StartKey::Created(key) => {
            println!("API key (bearer token): {key}");
            println!("Try: curl -H 'Authorization: Bearer {key}' {api_url}/Users");
            println!(
                "This key is replaced at the next start. For an identity provider, create a \
                 lasting one: cargo run --example server -- keys create --tenant {} --name NAME",
                args.tenant
            );
        }
        StartKey::Supplied => {
            println!("API key (bearer token): as given by --api-key / SCIMKIT_API_KEY");
        }
    }
    if !tenants.get(&args.tenant).await?.scim_active() {
        println!(
            "Tenant {:?} has SCIM switched off: requests get 403 until `tenants entitle` \
             and `tenants enable` turn it on.",
            args.tenant
        );
    }
    // The console is on the same host as the API: the API URL's scheme and authority.
    let origin = api_url.split('/').take(3).collect::<Vec<_>>().join("/");
    println!("Admin console: {origin}/admin (password: {shown})");
    if args.metrics || metrics_addr.is_some() {
        let metrics_origin = metrics_addr.as_deref().unwrap_or(&origin);
        println!("Metrics (Prometheus): {metrics_origin}/metrics");
    }
    // The console's login limiter counts failures per client address.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
