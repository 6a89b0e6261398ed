//! SQL implementations of [`UserStore`](super::UserStore): [`SqliteUserStore`] (feature
//! `sqlite`) and [`PostgresUserStore`] (feature `postgres`), with the
//! [`ApiKeyStore`](crate::keys::ApiKeyStore) and [`TenantStore`](crate::keys::TenantStore)
//! of each dialect ([`SqliteApiKeyStore`], [`SqliteTenantStore`], [`PostgresApiKeyStore`],
//! [`PostgresTenantStore`]), which share the database of the user store (on SQLite, a
//! clone of its [`SqliteDatabase`]; on PostgreSQL, through `from_pool`, its pool).
//!
//! Both keep the contract of [`MemoryUserStore`](super::MemoryUserStore) with the database
//! doing the atomic parts, so that any number of processes may share one database:
//!
//! - **Uniqueness** of `userName` per tenant by a unique index on
//!   `(tenant, user_name_lower)`, where `user_name_lower` is computed in Rust with
//!   [`str::to_lowercase`] (the same folding as the memory store, Unicode included).
//! - **Versions** come from a counter per tenant (`scimkit_tenant_counters`), so a version
//!   reveals nothing about other tenants' writes and is never reused for a resource (not
//!   even after a delete and a re-create with the same id); `meta.version` renders it as
//!   `W/"<n>"`, and the creation order `seq` is taken from the same counter. SQLite bumps
//!   the counter in the transaction of each write (one writer at a time). PostgreSQL
//!   stores reserve 64 values of a tenant at a time in a short statement of their own and
//!   hand them out to their writes, so that one tenant's concurrent writes do not wait on
//!   the counter row's lock until each commits: a tenant's versions then have gaps and may
//!   jump by up to 64 when another replica writes for it (its own activity, never another
//!   tenant's). `replace` and `delete` with an expected version are a single
//!   `UPDATE`/`DELETE ... WHERE tenant = ? AND id = ? AND version = ?`.
//! - **Tenants**: every statement has `tenant = ?` in its `WHERE` clause.
//! - **Filters** are translated to SQL with bound parameters (see below); `totalResults` is
//!   a `COUNT(*)` with the same `WHERE` (an unfiltered list reads the per-tenant count
//!   kept with every create and delete, on both dialects), and pages are
//!   `ORDER BY seq LIMIT .. OFFSET ..`, where `seq` is the creation order within the tenant.
//!
//! # Storage
//!
//! One table, `scimkit_users`: the key columns (`tenant`, `id`, `seq`), the indexed
//! columns (`user_name_lower`, `external_id`), `active`, `meta.created` and
//! `meta.lastModified` as (seconds, nanoseconds), the `version`, the resource as JSON
//! (`resource`, without `meta.version`, which is rendered from `version`), and two columns
//! only filters read: `search`, the same JSON with every string of a `caseExact: false`
//! attribute lower-cased in Rust (without `id`, `userName` and `externalId`, which filters
//! read from their columns), and `present`, the attribute paths for which `pr` holds (the
//! Enterprise extension's written `E:`, as in `E:department`). Migration 0013 made both
//! smaller, so that a typical user takes half a 4 KiB page of SQLite.
//!
//! Groups ([`SqliteGroupStore`], [`PostgresGroupStore`]: `group_store()` of a user store)
//! are rows of `scimkit_groups`, and their memberships rows of `scimkit_group_members`
//! (tenant, group, user), keyed by group and indexed by user, which go with the user
//! (migration 0011; see `group_rows.rs`).
//!
//! `scimkit_tenants` holds the two switches of each tenant, `scimkit_api_keys` the API keys
//! (the SHA-256 digest of each secret under a unique index, never the secret), and
//! `scimkit_outbox` the provisioning events of stores built `with_outbox()` (see
//! `outbox.rs`: written in the transaction of each user write, ids in commit order).
//!
//! `password` is **not stored**: the design forbids keeping secrets in plain text, and a
//! SCIM server never returns it. A host that needs it must take it from the `User` it is
//! handed before the store (e.g. hash it in a wrapping [`UserStore`](super::UserStore)).
//! Strings containing U+0000 are refused (PostgreSQL cannot store them in text).
//!
//! # Migrations
//!
//! The schema ships in the crate as numbered SQL scripts (`migrations/` at the root of the crate),
//! applied in order by the constructors (or `migrate`) inside one transaction and recorded
//! in `scimkit_schema_migrations`; running them again is a no-op. The tables of every
//! store (users, tenants, API keys, outbox) are in the same list, so one `migrate` over
//! one pool prepares every table, whichever store's constructor runs it.
//!
//! # One implementation, two drivers
//!
//! What both dialects share is written once; each supplies only what differs (its
//! placeholders, locking, counters and driver calls):
//!
//! - `driver.rs`: statements written once (`Statement`, SQLite's `?N`, PostgreSQL's `$N`
//!   derived once per process), the values both drivers bind (`Arg`), and columns read
//!   by position from either driver's rows (`ReadRow`).
//! - `user_rows.rs`: the columns and parameter layout of a user write, the statements both
//!   run as they are, and `sql_user_store!`, the one [`UserStore`](super::UserStore)
//!   implementation (ETags to expected versions, compare-and-swap outcomes, the list
//!   plan) over the few operations each store supplies; `encode.rs` and `decoded.rs` a
//!   user to and from its row.
//! - `key_rows.rs`: every statement and row of the key and tenant stores, and
//!   `sql_key_stores!`, their one implementation over the one call each dialect's database
//!   supplies (`KeyDatabase`: run a statement, read its rows); `outbox.rs`:
//!   the outbox rules, its statements and rows; `list_sql.rs`, `filter_sql/`,
//!   `sort_sql.rs`: the list plan, filters and sorts as SQL of either dialect.
//! - `group_rows.rs`: the statements and rows of the group stores, and the one
//!   [`GroupStore`](crate::group::GroupStore) implementation over each dialect's read and
//!   write transaction (`sqlite_groups.rs`, `postgres/groups.rs`).
//! - `sqlite.rs`, `sqlite_keys.rs`, `sqlite_db.rs` (connections, group-committing
//!   writer); `postgres/`, `postgres_keys.rs`: the drivers' calls.
//!
//! # Filter push-down
//!
//! Every filter over the core and Enterprise User attributes is translated exactly, with
//! the semantics of [`Filter::matches`](crate::Filter::matches): `and`/`or`/`not`, `pr`,
//! `eq null`/`ne null`, every operator on strings, booleans and `meta.created`/`lastModified`
//! (as instants), multi-valued attributes (`emails.value co "x"`) and value filters
//! (`emails[type eq "work" and value co "x"]`) through the database's JSON functions,
//! `co`/`sw`/`ew` as `LIKE` with `%`, `_` and `\` escaped. Case-insensitive comparisons
//! compare the lower-cased `search` column with the lower-cased literal, so they agree with
//! Rust's Unicode lower-casing, not with SQL `lower()`. A part that cannot be translated
//! (only shapes the parser never produces) makes the `WHERE` clause a superset, and the
//! candidates are checked with [`Filter::matches`](crate::Filter::matches), at most
//! [`DEFAULT_FALLBACK_LIMIT`] of them (more is refused as `invalidFilter`).

/// The constructors every SQLite store of scimkit has besides its own `new` (a store over
/// a [`SqliteDatabase`]): `open`, `in_memory`, `connect` and `database`.
#[cfg(feature = "sqlite")]
macro_rules! sqlite_constructors {
    ($store:ident) => {
        impl $store {
            /// Opens (creating it if missing) the database file at `path`
            /// ([`SqliteDatabase::open`]: WAL mode, [`Durability::Normal`](super::Durability::Normal),
            /// schema brought up to date).
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the file cannot be opened or migrated.
            pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
                SqliteDatabase::open(path).map(Self::new)
            }

            /// A private in-memory database (one connection), for tests and demos. To share
            /// it with another store, use that store's `new` with [`Self::database`].
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if SQLite cannot be started.
            pub async fn in_memory() -> Result<Self, StoreError> {
                SqliteDatabase::in_memory().map(Self::new)
            }

            /// Opens a database by URL: `sqlite://PATH` (created if missing) or
            /// `sqlite::memory:`.
            ///
            /// # Errors
            ///
            /// [`StoreError::Backend`] if the URL is invalid or the database cannot be
            /// opened or migrated.
            pub async fn connect(url: &str) -> Result<Self, StoreError> {
                SqliteDatabase::connect(url).map(Self::new)
            }

            /// The database, e.g. to share it with another store of scimkit (clones of a
            /// [`SqliteDatabase`] share its connections).
            pub fn database(&self) -> &SqliteDatabase {
                &self.db
            }
        }
    };
}

mod decoded;
mod driver;
mod encode;
mod filter_sql;
mod group_rows;
mod key_rows;
mod list_sql;
mod migrations;
mod outbox;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_keys;
mod sort_sql;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_db;
#[cfg(feature = "sqlite")]
mod sqlite_groups;
#[cfg(feature = "sqlite")]
mod sqlite_keys;
mod user_rows;

#[cfg(feature = "postgres")]
pub use postgres::{PostgresGroupStore, PostgresUserStore};
#[cfg(feature = "postgres")]
pub use postgres_keys::{PostgresApiKeyStore, PostgresTenantStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteUserStore;
#[cfg(feature = "sqlite")]
pub use sqlite_db::{Durability, SqliteDatabase, SqliteOptions};
#[cfg(feature = "sqlite")]
pub use sqlite_groups::SqliteGroupStore;
#[cfg(feature = "sqlite")]
pub use sqlite_keys::{SqliteApiKeyStore, SqliteTenantStore};

use super::StoreError;

/// What the operations of the SQL stores return.
type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The most candidate rows a SQL store evaluates in Rust for a filter it cannot fully
/// translate; past it, the query is refused with [`StoreError::InvalidFilter`].
pub const DEFAULT_FALLBACK_LIMIT: usize = 10_000;

/// Maps a database error: unique violations become [`StoreError::Uniqueness`] naming the
/// attribute (`userName`, `displayName` or `id`), anything else [`StoreError::Backend`].
#[cfg(feature = "postgres")]
fn map_db_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.kind() == sqlx::error::ErrorKind::UniqueViolation {
            let attribute = match db.constraint() {
                Some(c) => driver::unique_attribute(c),
                None => driver::unique_attribute(db.message()),
            };
            return StoreError::Uniqueness {
                attribute: attribute.into(),
            };
        }
    }
    StoreError::backend(e)
}

/// A lock that a panic elsewhere does not poison for good: the data behind the stores'
/// mutexes (idle connections, decoded users, a queue) stays valid whatever a panicking
/// holder did.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A [`StoreError::Backend`] with a message of ours.
fn backend_msg(msg: impl Into<String>) -> StoreError {
    StoreError::backend(std::io::Error::other(msg.into()))
}

/// Converts a page bound to SQL's `i64`.
fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Converts a database count back.
fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}
