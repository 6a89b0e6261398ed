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
            for row in key_table(&list, Utc::now()) {
                println!("{row}");
            }
        }
        KeysCommand::Revoke { tenant, id } => {
            let k = keys.revoke(&tenant, &id).await?;
            println!("revoked {} ({:?})", k.id, k.name);
        }
    }
    Ok(())
}

/// The rows of `keys list`: a header, then one row per key. Every column but the last is
/// padded to its widest cell, and the cells of those columns are ASCII (a tenant id with
/// other characters is shown escaped, `\u{e9}`), so that the columns stay aligned whatever
/// the data; the key's name, which an admin chooses freely, is the last column, shown
/// with control characters escaped so that it stays on its row.
fn key_table(list: &[scimkit::keys::ApiKeyInfo], now: chrono::DateTime<Utc>) -> Vec<String> {
    let when = |t: Option<chrono::DateTime<Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    let ascii = |s: &str| -> String {
        s.chars()
            .flat_map(|c| {
                let escaped = !(c.is_ascii_graphic() || c == ' ');
                let out: Vec<char> = if escaped {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                out
            })
            .collect()
    };
    let mut rows: Vec<[String; 6]> = vec![[
        "id".into(),
        "tenant".into(),
        "created".into(),
        "last used".into(),
        "status".into(),
        "name".into(),
    ]];
    for k in list {
        let status = match (k.revoked_at, k.expires_at) {
            (Some(_), _) => "revoked".to_owned(),
            (None, Some(e)) if e <= now => "expired".to_owned(),
            (None, Some(e)) => format!("expires {}", e.format("%Y-%m-%d")),
            (None, None) => "live".to_owned(),
        };
        rows.push([
            ascii(&k.id),
            ascii(&k.tenant),
            when(Some(k.created_at)),
            when(k.last_used_at),
            status,
            k.name.chars().flat_map(char::escape_debug).collect(),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.len());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (cell, w) in row.iter().zip(widths) {
                line.push_str(&format!("{cell:<w$}  "));
            }
            line.push_str(&row[5]);
            line
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use scimkit::keys::ApiKeyInfo;

    use super::key_table;

    fn key(id: &str, tenant: &str, name: &str) -> ApiKeyInfo {
        let mut k = ApiKeyInfo {
            id: id.into(),
            tenant: tenant.into(),
            name: name.into(),
            created_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
        };
        k.last_used_at = Some(k.created_at);
        k
    }

    #[test]
    fn keys_list_columns_stay_aligned_whatever_the_names() {
        let list = [
            key("k1", "default", "Okta"),
            key(
                "k2",
                "a-very-long-tenant-name-indeed-0123456789",
                &"x".repeat(80),
            ),
            key("k3", "société", "名前のとても長いキー 🔑"),
            key("k4", "acme", "two\nlines\tand a tab"),
        ];
        let rows = key_table(&list, Utc::now());
        assert_eq!(rows.len(), 5);
        // Every row has its "created" cell (and so every column before the name) at the
        // same byte offset, and the columns before the name are ASCII, so at the same
        // display column too.
        let at = rows[1].find("2026-01-02").unwrap();
        assert_eq!(rows[0].find("created"), Some(at));
        for row in &rows[1..] {
            assert_eq!(row.find("2026-01-02"), Some(at), "{row}");
            assert!(row[..at].is_ascii(), "{row}");
            assert_eq!(row.find("live"), rows[0].find("status"), "{row}");
            assert!(!row.contains('\n'));
        }
        assert!(rows[3].ends_with("名前のとても長いキー 🔑"));
    }
}
