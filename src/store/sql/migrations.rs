//! The schema migrations shipped in the crate, per dialect, in order.
//!
//! A migration is applied once, inside the transaction that records it in
//! `scimkit_schema_migrations`. Never edit a published script: add the next one. Every SQL
//! store of scimkit (users, tenant settings, API keys, the event outbox) has its tables in
//! this one list, so one `migrate` prepares every table of a database, whichever store's
//! constructor runs it first.

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

/// The SQLite migrations.
#[cfg(feature = "sqlite")]
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

pub(super) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        description: "users",
        sql: include_str!("migrations/sqlite/0001_users.sql"),
    },
    Migration {
        version: 2,
        description: "user email index",
        sql: include_str!("migrations/sqlite/0002_user_emails.sql"),
    },
    Migration {
        version: 3,
        description: "tenants and api keys",
        sql: include_str!("migrations/sqlite/0003_tenants_api_keys.sql"),
    },
    Migration {
        version: 4,
        description: "event outbox",
        sql: include_str!("migrations/sqlite/0004_outbox.sql"),
    },
    Migration {
        version: 5,
        description: "per-tenant versions and creation order",
        sql: include_str!("migrations/sqlite/0005_tenant_counters.sql"),
    },
    Migration {
        version: 6,
        description: "sort indexes and user counts",
        sql: include_str!("migrations/sqlite/0006_list_pages.sql"),
    },
    Migration {
        version: 7,
        description: "cheaper writes",
        sql: include_str!("migrations/sqlite/0007_cheaper_writes.sql"),
    },
];

/// The PostgreSQL migrations.
#[cfg(feature = "postgres")]
pub(super) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        description: "users",
        sql: include_str!("migrations/postgres/0001_users.sql"),
    },
    Migration {
        version: 2,
        description: "user email index",
        sql: include_str!("migrations/postgres/0002_user_emails.sql"),
    },
    Migration {
        version: 3,
        description: "tenants and api keys",
        sql: include_str!("migrations/postgres/0003_tenants_api_keys.sql"),
    },
    Migration {
        version: 4,
        description: "event outbox",
        sql: include_str!("migrations/postgres/0004_outbox.sql"),
    },
    Migration {
        version: 5,
        description: "versions and positions per tenant",
        sql: include_str!("migrations/postgres/0005_tenant_counters.sql"),
    },
    Migration {
        version: 6,
        description: "sort indexes",
        sql: include_str!("migrations/postgres/0006_list_pages.sql"),
    },
    Migration {
        version: 7,
        description: "cheaper writes",
        sql: include_str!("migrations/postgres/0007_cheaper_writes.sql"),
    },
];

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
