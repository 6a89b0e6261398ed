//! The storage boundary: [`UserStore`], with the [`RequestContext`] passed to every call
//! (defined in [`crate::context`]) and [`StoreError`] (defined in [`crate::error`]).
//!
//! The contract every implementation keeps (and [`crate::testing`] checks):
//!
//! - **Tenants never meet**: every call is scoped by [`RequestContext::tenant`].
//! - **Uniqueness is atomic**: `userName` is unique per tenant, case-insensitively; of two
//!   racing creates (or a create racing a rename) one wins and the other gets
//!   [`StoreError::Uniqueness`].
//! - **Versions**: the store assigns `meta.version` on every successful write, a value it
//!   has never used for that resource before; `replace` and `delete` with an expected
//!   version are atomic compare-and-swap operations ([`StoreError::VersionMismatch`]).
//! - **Filters**: `list` gets the parsed [`crate::Filter`], never a string. It may push
//!   any part down; what it cannot serve it evaluates with [`crate::Filter::matches`] or
//!   refuses with [`StoreError::InvalidFilter`]. It never returns unfiltered rows.
//! - **Paging**: `total_results` counts every match before paging; the order is stable
//!   across calls (e.g. creation order) so that `startIndex` paging neither skips nor
//!   repeats users.
//! - Deactivated users (`active: false`) are stored and listed like any other.
//!
//! A store that records provisioning events also implements
//! [`EventOutbox`](crate::events::EventOutbox), a trait of its own: the outbox is read
//! across tenants by the host's dispatcher, never by a request.

mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::sync::Arc;

use async_trait::async_trait;

pub use memory::{MemoryUserStore, fold_user_name};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::DEFAULT_FALLBACK_LIMIT;
#[cfg(feature = "sqlite")]
pub use sql::{Durability, SqliteDatabase, SqliteOptions};
#[cfg(feature = "postgres")]
pub use sql::{PostgresApiKeyStore, PostgresTenantStore};
#[cfg(feature = "postgres")]
pub use sql::{PostgresGroupStore, PostgresUserStore};
#[cfg(feature = "sqlite")]
pub use sql::{SqliteApiKeyStore, SqliteTenantStore};
#[cfg(feature = "sqlite")]
pub use sql::{SqliteGroupStore, SqliteUserStore};

pub use crate::context::{Principal, RequestContext};
pub use crate::error::StoreError;
use crate::list::{ListPage, ListQuery};
use crate::resource::User;

/// Persistence of User resources. Object-safe: use it as `Arc<dyn UserStore>`.
///
/// The server assigns `id`, `meta.created` and `meta.lastModified`; the store assigns
/// `meta.version`. Users come back as `Arc<User>` so that a store that keeps them in
/// memory hands them out without copying; a database-backed store wraps what it reads.
/// See the [module documentation](self) for the full contract.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user (with `id` and `meta` already set except `meta.version`) and
    /// returns it as stored. Fails with [`StoreError::Uniqueness`] if the `userName` is
    /// taken in the tenant, in any letter case.
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError>;

    /// The user with this id in the tenant, if any.
    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError>;

    /// The user with this id in the tenant as this process last read or wrote it, if the
    /// store keeps it, without asking the database; `None` when it does not (the default).
    ///
    /// It may be stale: another process may have written the user since. The server uses
    /// it only as the base of an update (PATCH, PUT) whose write is a compare-and-swap on
    /// its version, and reads the user again with [`UserStore::get`] when the swap
    /// misses, when the client's `If-Match` differs from it, or when the update would
    /// change nothing — so an update from a kept user answers exactly what one from a
    /// fresh read would, in one round trip fewer. That holds only if
    /// [`UserStore::replace`] with an expected version that is no longer the stored one
    /// fails with [`StoreError::VersionMismatch`] before any error that depends on the
    /// content (a stale `userName` may now belong to another user: that is a mismatch,
    /// not a [`StoreError::Uniqueness`]); `check_user_store` checks it. The SQL stores keep the latest version
    /// of each user they read or wrote; the memory store, whose read is a lookup, keeps
    /// none.
    fn kept(&self, ctx: &RequestContext, id: &str) -> Option<Arc<User>> {
        let _ = (ctx, id);
        None
    }

    /// Replaces the user whose id is `user.id`. With `expected_version`, atomically only if
    /// the stored version still equals it ([`StoreError::VersionMismatch`] otherwise).
    /// Returns the user as stored, with its new version.
    async fn replace(
        &self,
        ctx: &RequestContext,
        user: User,
        expected_version: Option<&str>,
    ) -> Result<Arc<User>, StoreError>;

    /// Deletes the user; with `expected_version`, only if it still matches.
    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Whether [`UserStore::list`] serves RFC 9865 cursor queries natively
    /// ([`ListQuery::cursor`], [`ListPage::next_cursor`]), so that a deep page costs no
    /// more than the first. When `false` (the default), the server pages cursor queries
    /// by offset and the store never sees `ListQuery::cursor`.
    fn supports_cursors(&self) -> bool {
        false
    }

    /// One page of the users matching `query.filter`, with the total count of matches.
    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError>;
}
