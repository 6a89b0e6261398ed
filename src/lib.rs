//! # scimkit
//!
//! An embeddable SCIM 2.0 service provider (RFC 7643, RFC 7644) for user provisioning
//! from identity providers such as Okta and Microsoft Entra ID.
//!
//! scimkit is sans-IO: [`ScimServer::handle`] takes an [`http::Request`] and returns an
//! [`http::Response`], so it plugs into any web framework; storage is the [`UserStore`]
//! trait, so it plugs into any database; authentication is the [`Authenticator`] trait.
//!
//! ## Quick start
//!
//! ```
//! use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator};
//!
//! # async fn demo() {
//! let server = ScimServer::builder()
//!     .base_path("/scim/v2")
//!     .store(MemoryUserStore::new())
//!     .authenticator(StaticKeyAuthenticator::new().with_key("s3cret", Principal::new("acme", "key-1")))
//!     .build()
//!     .expect("valid configuration");
//!
//! let request = http::Request::post("/scim/v2/Users")
//!     .header("Authorization", "Bearer s3cret")
//!     .header("Content-Type", "application/scim+json")
//!     .body(br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}"#.to_vec())
//!     .unwrap();
//! let response = server.handle(request).await;
//! assert_eq!(response.status(), 201);
//! # }
//! # futures_lite_block_on(demo());
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! The request pipeline, its invariants and the framework-integration contract are
//! described in the [`server`] module; axum and other tower stacks mount
//! `server.into_service()` (feature `tower`, [`service`]).
//!
//! ## Map of the modules
//!
//! | module | what it holds |
//! |---|---|
//! | [`server`] | [`ScimServer`], its builder and [`Config`]; the pipeline: route → parse → execute → render |
//! | `service` (feature `tower`), `actix` (feature `actix`) | `ScimService`, the server as a `tower::Service`; the actix-web integration |
//! | [`resource`], [`schema`] | the User resource (Enterprise extension included) and the attribute definitions |
//! | [`patch`], [`filter`], [`projection`], [`sort`], [`list`] | PATCH, filters, `attributes`, `sortBy`, list queries and pages |
//! | [`store`] | the [`UserStore`] trait, [`MemoryUserStore`], the SQLite and PostgreSQL stores (features `sqlite`, `postgres`) |
//! | [`auth`], [`keys`], [`context`] | bearer authentication, named API keys and tenants, who made a request |
//! | [`events`] | provisioning events, the outbox and its dispatcher |
//! | [`compat`] | tolerances for what real identity providers send |
//! | [`error`] | [`ScimError`] and [`StoreError`], mapped to the wire in one place |
//! | `csv` (feature `csv`) | CSV import and export |
//! | `metrics` (feature `metrics`) | the metrics a server records (names, labels), through the `metrics` facade |
//! | `testing` (feature `testing`) | conformance suites for stores, fault injection |
//!
//! `ARCHITECTURE.md` in the repository has the code map and where to start for common
//! changes.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Implements `Debug` for `$ty` showing only the fields named, then `..`: for the types
/// that hold a secret, a trait object or a lock, which have no place in a log.
macro_rules! debug_fields {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}

#[cfg(feature = "actix")]
pub mod actix;
pub mod auth;
pub mod compat;
pub mod context;
#[cfg(feature = "csv")]
pub mod csv;
pub mod error;
pub mod events;
pub mod filter;
pub mod group;
pub mod keys;
pub mod list;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod server;
#[cfg(feature = "tower")]
pub mod service;
pub mod sort;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

/// The media type of every response (RFC 7644 §3.1), errors included.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// The attribute a store implementation puts on its `impl UserStore` (re-exported so that
/// implementers need not depend on the crate themselves).
pub use async_trait::async_trait;
pub use auth::{AuthError, Authenticator, StaticKeyAuthenticator};
pub use compat::Compatibility;
pub use context::{Principal, RequestContext};
pub use error::{ScimError, ScimType, StoreError};
pub use filter::Filter;
pub use group::{Group, GroupStore, MemoryGroupStore};
pub use keys::{ApiKeyStore, ApiKeys, MemoryApiKeyStore, MemoryTenantStore, TenantStore, Tenants};
pub use list::{ListPage, ListQuery, ListResponse};
pub use resource::{
    Address, Email, EnterpriseUser, GroupMembership, Manager, Meta, MultiValue, Name, PhoneNumber,
    Secret, User,
};
pub use server::{BuildError, Config, RateLimit, ScimServer, ScimServerBuilder};
#[cfg(feature = "tower")]
pub use service::ScimService;
pub use store::{MemoryUserStore, UserStore};

/// The README's examples, compiled as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Checks the crate's own tests share.
#[cfg(test)]
pub(crate) mod test_checks {
    /// Fails when `work` (a count of steps for an input of size n) grows faster between
    /// `n` and `10 n` than n log n allows, with slack 2: linear work grows 10×,
    /// quadratic 100×.
    pub(crate) fn assert_n_log_n(what: &str, n: usize, work: impl Fn(usize) -> u64) {
        let small = work(n).max(1) as f64;
        let large = work(10 * n) as f64;
        let log = |x: usize| (x as f64).log2();
        let allowed = 10.0 * log(10 * n) / log(n) * 2.0;
        assert!(
            large / small <= allowed,
            "{what}: {small} steps for {n}, {large} for {} (ratio {:.1} > {allowed:.1})",
            10 * n,
            large / small
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a host shares between threads and tasks is `Send + Sync` (a `Send` bound
    /// lost in a refactor would otherwise show only in a host's build).
    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<ScimServer>();
        check::<Config>();
        check::<ScimError>();
        check::<StoreError>();
        check::<Principal>();
        check::<RequestContext>();
        check::<MemoryUserStore>();
        check::<std::sync::Arc<dyn UserStore>>();
        check::<ApiKeys>();
        check::<Tenants>();
        check::<keys::AdminError>();
        check::<keys::NewApiKey>();
        #[cfg(feature = "csv")]
        {
            fn send<T: Send>() {}
            check::<csv::CsvError>();
            check::<csv::ColumnMap>();
            check::<csv::ImportSummary>();
            check::<csv::RowReport>();
            send::<csv::Import<'static>>();
            send::<csv::Export<'static>>();
        }
        check::<User>();
    }
}
