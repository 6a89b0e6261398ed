//! The schema migrations shipped in the crate, per dialect, in order.
//!
//! A migration is applied once, inside the transaction that records it in
//! `scimkit_schema_migrations`. Never edit a published script: add the next one. Every SQL
//! store of scimkit (users, tenant settings, API keys, the event outbox) has its tables in
//! this one list, so one `migrate` prepares every table of a database, whichever store's
//! constructor runs it first.

use super::backend_msg;
use crate::store::StoreError;

/// One numbered schema change.
#[derive(Debug, Clone, Copy)]
pub(super) struct Migration {
    /// Position in the sequence, from 1, without gaps.
    pub version: i64,
    /// What it does, recorded with it.
    pub description: &'static str,
    /// The statements.
    pub sql: &'static str,
}

impl Migration {
    /// The error of this migration failing with `e` on `dialect`.
    pub(super) fn failed(&self, dialect: &str, e: impl std::fmt::Display) -> StoreError {
        let (v, description) = (self.version, self.description);
        backend_msg(format!(
            "{dialect} migration {v} ({description}) failed: {e}"
        ))
    }
}

/// The migrations of `list` a database at schema version `applied` has not seen, up to
/// `target`, in order.
pub(super) fn pending(
    list: &'static [Migration],
    applied: i64,
    target: i64,
) -> impl Iterator<Item = &'static Migration> {
    list.iter()
        .filter(move |m| m.version > applied && m.version <= target)
}

/// The migrations of one dialect, from its folder under `migrations/`: version,
/// description and file name of each, in order.
macro_rules! migrations {
    ($dialect:literal: $(($version:literal, $description:literal, $file:literal)),+ $(,)?) => {
        &[$(Migration {
            version: $version,
            description: $description,
            sql: include_str!(concat!("migrations/", $dialect, "/", $file)),
        }),+]
    };
}

/// The SQLite migrations.
#[cfg(feature = "sqlite")]
pub(super) const SQLITE: &[Migration] = migrations!("sqlite":
    (1, "users", "0001_users.sql"),
    (2, "user email index", "0002_user_emails.sql"),
    (3, "tenants and api keys", "0003_tenants_api_keys.sql"),
    (4, "event outbox", "0004_outbox.sql"),
    (5, "per-tenant versions and creation order", "0005_tenant_counters.sql"),
    (6, "sort indexes and user counts", "0006_list_pages.sql"),
);

/// The PostgreSQL migrations.
#[cfg(feature = "postgres")]
pub(super) const POSTGRES: &[Migration] = migrations!("postgres":
    (1, "users", "0001_users.sql"),
    (2, "user email index", "0002_user_emails.sql"),
    (3, "tenants and api keys", "0003_tenants_api_keys.sql"),
    (4, "event outbox", "0004_outbox.sql"),
    (5, "versions and positions per tenant", "0005_tenant_counters.sql"),
    (6, "sort indexes", "0006_list_pages.sql"),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        #[cfg(feature = "sqlite")]
        for (i, m) in SQLITE.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
        #[cfg(feature = "postgres")]
        for (i, m) in POSTGRES.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
    }
}
