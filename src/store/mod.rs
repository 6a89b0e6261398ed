//! The storage boundary: [`UserStore`], the [`RequestContext`] passed to every call, and
//! [`StoreError`].
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

mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::sync::Arc;

use async_trait::async_trait;

pub use memory::MemoryUserStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::DEFAULT_FALLBACK_LIMIT;
#[cfg(feature = "postgres")]
pub use sql::PostgresUserStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteUserStore;
#[cfg(feature = "sqlite")]
pub use sql::{Durability, SqliteDatabase, SqliteOptions};
#[cfg(feature = "postgres")]
pub use sql::{PostgresApiKeyStore, PostgresTenantStore};
#[cfg(feature = "sqlite")]
pub use sql::{SqliteApiKeyStore, SqliteTenantStore};

use crate::list::{ListPage, ListQuery};
use crate::resource::User;
use crate::schema::SchemaSet;

/// Who made a request: the tenant (customer account) and the API key used.
///
/// Cheap to clone (shared strings): an authenticator hands out a clone per request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The tenant (customer account) the credentials belong to.
    pub tenant: Arc<str>,
    /// The identifier of the API key used (not the secret).
    pub key_id: Arc<str>,
}

impl Principal {
    /// A principal for `tenant` authenticated by key `key_id`.
    pub fn new(tenant: impl AsRef<str>, key_id: impl AsRef<str>) -> Self {
        Self {
            tenant: Arc::from(tenant.as_ref()),
            key_id: Arc::from(key_id.as_ref()),
        }
    }
}

/// Passed to every store call: the tenant to scope by, who asked, and a request id for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The tenant every store operation is scoped to.
    pub tenant: Arc<str>,
    /// The authenticated caller.
    pub principal: Principal,
    /// A request identifier for correlating logs.
    pub request_id: String,
    /// The schemas of the server the request came to: the stores read extension
    /// attributes through them (filters, sorting, search columns).
    schemas: Arc<SchemaSet>,
}

impl RequestContext {
    /// A context for a request by `principal`, scoped to its tenant.
    pub fn new(principal: Principal, request_id: impl Into<String>) -> Self {
        Self {
            tenant: principal.tenant.clone(),
            principal,
            request_id: request_id.into(),
            schemas: SchemaSet::core_shared(),
        }
    }

    /// A context for work the host does itself on a tenant's behalf (imports, admin tools).
    pub fn system(tenant: impl AsRef<str>) -> Self {
        let principal = Principal::new(tenant, "system");
        Self {
            tenant: principal.tenant.clone(),
            principal,
            request_id: uuid::Uuid::new_v4().to_string(),
            schemas: SchemaSet::core_shared(),
        }
    }

    /// The same context for a server with these schemas (a host's tool working on a
    /// server's users passes [`ScimServer::schemas`](crate::ScimServer::schemas)).
    #[must_use]
    pub fn with_schemas(mut self, schemas: Arc<SchemaSet>) -> Self {
        self.schemas = schemas;
        self
    }

    /// The schemas of the server: the core User schema, the Enterprise extension and the
    /// host's extensions. A context made without [`with_schemas`](Self::with_schemas)
    /// has no extensions of the host's.
    pub fn schemas(&self) -> &SchemaSet {
        &self.schemas
    }
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No resource with that id in this tenant.
    #[error("resource not found")]
    NotFound,
    /// A uniqueness constraint was violated; names the attribute (e.g. `userName`).
    #[error("{attribute} is already taken")]
    Uniqueness {
        /// The attribute whose value is taken.
        attribute: String,
    },
    /// The expected version did not match the stored one.
    #[error("version mismatch")]
    VersionMismatch,
    /// The store cannot serve this filter.
    #[error("filter not supported by this store: {0}")]
    InvalidFilter(String),
    /// Any other failure (I/O, database). Never shown to clients.
    #[error("store backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

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

    /// The event outbox ([`crate::events`]): up to `limit` events recorded with writes and
    /// not yet acknowledged, oldest first. A store records a write's events (computed with
    /// [`crate::events::events_for`]) atomically with the write. The default is a store
    /// without an outbox: no events.
    async fn pending_events(
        &self,
        limit: usize,
    ) -> Result<Vec<crate::events::ProvisioningEvent>, StoreError> {
        let _ = limit;
        Ok(Vec::new())
    }

    /// Removes the events up to and including id `through` from the outbox.
    async fn acknowledge_events(&self, through: u64) -> Result<(), StoreError> {
        let _ = through;
        Ok(())
    }

    /// One page of the users matching `query.filter`, with the total count of matches.
    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<MemoryUserStore>();
        check::<RequestContext>();
        check::<StoreError>();
        check::<std::sync::Arc<dyn UserStore>>();
    }
}
