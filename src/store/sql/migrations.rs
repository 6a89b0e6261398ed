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

/// The migrations of both dialects, which keep the same versions (a change one dialect
/// does not need is an empty script there): per version, the script's file name (the same
/// in the crate's `migrations/sqlite/` and `migrations/postgres/`) and the description recorded on
/// SQLite and on PostgreSQL.
macro_rules! migrations {
    ($(($version:literal, $file:literal, $sqlite:literal, $postgres:literal)),+ $(,)?) => {
        /// The SQLite migrations.
        #[cfg(feature = "sqlite")]
        pub(super) const SQLITE: &[Migration] =
            &[$(migration!("sqlite", $version, $file, $sqlite)),+];

        /// The PostgreSQL migrations.
        #[cfg(feature = "postgres")]
        pub(super) const POSTGRES: &[Migration] =
            &[$(migration!("postgres", $version, $file, $postgres)),+];
    };
}

/// One migration of `migrations!`: the script `file` of the dialect's folder.
macro_rules! migration {
    ($dialect:literal, $version:literal, $file:literal, $description:literal) => {
        Migration {
            version: $version,
            description: $description,
            sql: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/",
                $dialect,
                "/",
                $file
            )),
        }
    };
}

migrations! {
    (1, "0001_users.sql", "users", "users"),
    (2, "0002_user_emails.sql", "user email index", "user email index"),
    (3, "0003_tenants_api_keys.sql", "tenants and api keys", "tenants and api keys"),
    (4, "0004_outbox.sql", "event outbox", "event outbox"),
    (
        5,
        "0005_tenant_counters.sql",
        "per-tenant versions and creation order",
        "versions and positions per tenant"
    ),
    (6, "0006_list_pages.sql", "sort indexes and user counts", "sort indexes"),
    (7, "0007_cheaper_writes.sql", "cheaper writes", "cheaper writes"),
    (8, "0008_indexed_columns.sql", "indexed columns", "indexed columns, HOT updates"),
    (9, "0009_fewer_btrees.sql", "fewer B-trees per write", "none"),
    (10, "0010_user_counts.sql", "none", "user counts kept by triggers"),
    (11, "0011_groups.sql", "groups and memberships", "groups and memberships"),
    (
        12,
        "0012_outbox_staged.sql",
        "none",
        "events staged without a lock, sequenced by the reader"
    ),
    (
        13,
        "0013_smaller_writes.sql",
        "creates without triggers, compact present",
        "compact present"
    ),
    (
        14,
        "0014_email_index_without_pending_list.sql",
        "none",
        "email index without a pending list"
    ),
}

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
