//! The admin commands: API keys, tenant switches, CSV import and export, all on the
//! server's own database.

use std::io::Write;

use chrono::{Duration, Utc};
use clap::Subcommand;
use scimkit::csv::{Export, Import, RowOutcome};
use scimkit::{RequestContext, ScimServer};

use crate::BoxError;
use crate::stores::Stores;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Creates a named API key and prints its secret, once.
    Create {
        /// The tenant (customer account).
        #[arg(long)]
        tenant: String,
        /// A name of the admin's choosing, e.g. "Okta production".
        #[arg(long)]
        name: String,
        /// Days until the key expires (default: never).
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// Lists keys (never their secrets).
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revokes a key: the next request with it gets 401.
    Revoke {
        /// The tenant the key belongs to.
        #[arg(long)]
        tenant: String,
        /// The key id (from `keys list`).
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Lists tenants and their two switches.
    List,
    /// The vendor makes SCIM available to the account (support staff only).
    Entitle { tenant: String },
    /// The vendor withdraws SCIM from the account.
    Unentitle { tenant: String },
    /// The account admin turns SCIM provisioning on.
    Enable { tenant: String },
    /// The account admin turns SCIM provisioning off.
    Disable { tenant: String },
}

pub async fn keys(stores: &Stores, cmd: KeysCommand) -> Result<(), BoxError> {
    let (keys, tenants) = stores.admin("");
    match cmd {
        KeysCommand::Create {
            tenant,
            name,
            expires_in_days,
        } => {
            // Quick start: a tenant created from this CLI is entitled and switched on.
            if tenants.list().await?.iter().all(|t| t.id != tenant) {
                tenants.set_scim_entitled(&tenant, true).await?;
                tenants.set_scim_enabled(&tenant, true).await?;
            }
            let expires = expires_in_days.map(|d| Utc::now() + Duration::days(d));
            let key = keys.create(&tenant, &name, expires).await?;
            println!(
                "API key {:?} created for tenant {tenant} (id {}).",
                key.info.name, key.info.id
            );
            println!();
            println!("    {}", key.secret.expose());
            println!();
            println!("Store it safely now: it will not be shown again. A lost key cannot be");
            println!("recovered; create a new one and revoke the old one.");
        }
        KeysCommand::List { tenant } => {
            let list = match &tenant {
                Some(t) => keys.list(t).await?,
                None => keys.list_all().await?,
            };
            println!(
                "{:<22} {:<16} {:<24} {:<20} {:<20} status",
                "id", "tenant", "name", "created", "last used"
            );
            let now = Utc::now();
            for k in list {
                let when = |t: Option<chrono::DateTime<Utc>>| {
                    t.map_or_else(
                        || "-".to_owned(),
                        |t| t.format("%Y-%m-%d %H:%M").to_string(),
                    )
                };
                let status = match (k.revoked_at, k.expires_at) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(e)) if e <= now => "expired".to_owned(),
                    (None, Some(e)) => format!("expires {}", e.format("%Y-%m-%d")),
                    (None, None) => "live".to_owned(),
                };
                println!(
                    "{:<22} {:<16} {:<24} {:<20} {:<20} {status}",
                    k.id,
                    k.tenant,
                    k.name,
                    when(Some(k.created_at)),
                    when(k.last_used_at)
                );
            }
        }
        KeysCommand::Revoke { tenant, id } => {
            let k = keys.revoke(&tenant, &id).await?;
            println!("revoked {} ({:?})", k.id, k.name);
        }
    }
    Ok(())
}

pub async fn tenants(stores: &Stores, cmd: TenantsCommand) -> Result<(), BoxError> {
    let (_, tenants) = stores.admin("");
    let show = |t: scimkit::keys::Tenant| {
        println!(
            "{:<24} entitled: {:<5} enabled: {:<5} → SCIM {}",
            t.id,
            t.scim_entitled,
            t.scim_enabled,
            if t.scim_active() { "on" } else { "off" }
        );
    };
    match cmd {
        TenantsCommand::List => {
            for t in tenants.list().await? {
                show(t);
            }
        }
        TenantsCommand::Entitle { tenant } => show(tenants.set_scim_entitled(&tenant, true).await?),
        TenantsCommand::Unentitle { tenant } => {
            show(tenants.set_scim_entitled(&tenant, false).await?)
        }
        TenantsCommand::Enable { tenant } => show(tenants.set_scim_enabled(&tenant, true).await?),
        TenantsCommand::Disable { tenant } => show(tenants.set_scim_enabled(&tenant, false).await?),
    }
    Ok(())
}

/// `import FILE --tenant T [--dry-run]`: CSV rows upserted by userName, with a progress
/// bar on standard error and rejected rows listed.
pub async fn import(
    stores: &Stores,
    file: &str,
    tenant: &str,
    dry_run: bool,
) -> Result<(), BoxError> {
    let server = ScimServer::builder()
        .shared_store(stores.users.clone())
        .authenticator(scimkit::StaticKeyAuthenticator::new())
        .build()?;
    let input = std::fs::File::open(file)?;
    let size = input.metadata()?.len().max(1);
    let s = Import::new(&server, RequestContext::system(tenant))
        .dry_run(dry_run)
        .on_row(|r| {
            if matches!(r.outcome, RowOutcome::Rejected(_)) {
                eprintln!("\r{r}");
            }
        })
        .on_progress(move |p| {
            if p.rows % 1000 == 0 {
                let done = (p.bytes * 40 / size).min(40) as usize;
                eprint!(
                    "\r[{}{}] {} rows",
                    "#".repeat(done),
                    " ".repeat(40 - done),
                    p.rows
                );
            }
        })
        .run(input)
        .await?;
    eprintln!("\r[{}] {} rows", "#".repeat(40), s.rows);
    println!(
        "{} rows: {} created, {} updated, {} unchanged, {} rejected{}",
        s.rows,
        s.created,
        s.updated,
        s.unchanged,
        s.rejected,
        if s.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    if s.rejected > 0 {
        std::process::exit(2);
    }
    Ok(())
}

/// `export --tenant T`: the tenant's users as CSV on standard output.
pub async fn export(stores: &Stores, tenant: &str) -> Result<(), BoxError> {
    let out = std::io::stdout().lock();
    let n = Export::new(stores.users.as_ref(), RequestContext::system(tenant))
        .run(out)
        .await?;
    std::io::stdout().flush()?;
    eprintln!("{} users exported", n.users);
    Ok(())
}
