//! Writing a `UserStore`: a complete store over a `BTreeMap` behind a lock, that checks
//! itself with scimkit's conformance suite (`scimkit::testing`) and then serves a request.
//!
//! ```text
//! cargo run --example custom_store --features testing
//! ```
//!
//! What a store must do (the module docs of `scimkit::store` have the full contract):
//!
//! - **Versions**: the store assigns `meta.version`, an entity tag the server sends as
//!   `ETag` and compares with `If-Match`; write it as a weak tag of a number that changes
//!   on every write, `W/"<n>"` (the conformance suite rejects a store that writes an
//!   invalid tag). `replace` and `delete` with an expected version are compare-and-swap.
//! - **Uniqueness**: `userName` is unique per tenant in its folded form
//!   ([`fold_user_name`]): two racing creates give one success and one
//!   `StoreError::Uniqueness`.
//! - **Tenants**: every call is scoped by `ctx.tenant`.
//! - **Lists**: a store that evaluates in Rust filters with `Filter::matches_in`, sorts
//!   with `SortSpec::sort_in` (both with `ctx.schemas()`, the server's extensions), then
//!   pages with `ListQuery::page` (which counts every match for `totalResults`), in a
//!   stable order (here: creation order). It never returns unfiltered rows.
//! - **Wrapping another store**: forward every method, the defaulted ones too
//!   (`supports_cursors`), or the wrapper silently loses them; an outbox is the separate
//!   `scimkit::events::EventOutbox` trait, forwarded the same way.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use scimkit::async_trait;
use scimkit::store::fold_user_name;
use scimkit::{ListPage, ListQuery, RequestContext, StoreError, User, UserStore};

/// One tenant's users in creation order, and its write counter.
#[derive(Default)]
struct Tenant {
    /// Creation sequence → user.
    users: BTreeMap<u64, Arc<User>>,
    next_seq: u64,
    next_version: u64,
}

impl Tenant {
    fn seq_of(&self, id: &str) -> Option<u64> {
        self.users
            .iter()
            .find(|(_, u)| u.id.as_deref() == Some(id))
            .map(|(seq, _)| *seq)
    }

    fn name_taken(&self, user_name: &str, except: Option<u64>) -> bool {
        let folded = fold_user_name(user_name);
        self.users
            .iter()
            .any(|(seq, u)| Some(*seq) != except && fold_user_name(&u.user_name) == folded)
    }

    /// `user` as stored: the next version of the tenant.
    fn versioned(&mut self, mut user: User) -> Arc<User> {
        self.next_version += 1;
        if let Some(meta) = user.meta.as_mut() {
            meta.version = Some(format!("W/\"{}\"", self.next_version).into());
        }
        Arc::new(user)
    }
}

/// Users in a `BTreeMap` per tenant: a store in about a hundred lines.
#[derive(Default)]
struct MapStore {
    tenants: Mutex<BTreeMap<String, Tenant>>,
}

impl MapStore {
    fn with_tenant<T>(&self, ctx: &RequestContext, f: impl FnOnce(&mut Tenant) -> T) -> T {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        f(tenants.entry(ctx.tenant.to_string()).or_default())
    }
}

/// The stored version of `user` is `expected` (or nothing was expected).
fn version_is(user: &User, expected: Option<&str>) -> bool {
    expected.is_none_or(|e| user.meta.as_ref().and_then(|m| m.version.as_deref()) == Some(e))
}

#[async_trait]
impl UserStore for MapStore {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        self.with_tenant(ctx, |t| {
            if t.name_taken(&user.user_name, None) {
                return Err(StoreError::Uniqueness {
                    attribute: "userName".into(),
                });
            }
            let stored = t.versioned(user);
            t.next_seq += 1;
            t.users.insert(t.next_seq, Arc::clone(&stored));
            Ok(stored)
        })
    }

    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        Ok(self.with_tenant(ctx, |t| t.seq_of(id).and_then(|s| t.users.get(&s).cloned())))
    }

    async fn replace(
        &self,
        ctx: &RequestContext,
        user: User,
        expected_version: Option<&str>,
    ) -> Result<Arc<User>, StoreError> {
        let id = user.id.clone().ok_or(StoreError::NotFound)?;
        self.with_tenant(ctx, |t| {
            let seq = t.seq_of(&id).ok_or(StoreError::NotFound)?;
            let current = t.users.get(&seq).ok_or(StoreError::NotFound)?;
            if !version_is(current, expected_version) {
                return Err(StoreError::VersionMismatch);
            }
            if t.name_taken(&user.user_name, Some(seq)) {
                return Err(StoreError::Uniqueness {
                    attribute: "userName".into(),
                });
            }
            let stored = t.versioned(user);
            t.users.insert(seq, Arc::clone(&stored));
            Ok(stored)
        })
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        self.with_tenant(ctx, |t| {
            let seq = t.seq_of(id).ok_or(StoreError::NotFound)?;
            let current = t.users.get(&seq).ok_or(StoreError::NotFound)?;
            if !version_is(current, expected_version) {
                return Err(StoreError::VersionMismatch);
            }
            t.users.remove(&seq);
            Ok(())
        })
    }

    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        let schemas = ctx.schemas();
        // Filter, in creation order (a stable order for paging).
        let mut matching: Vec<Arc<User>> = self.with_tenant(ctx, |t| {
            t.users
                .values()
                .filter(|u| {
                    query
                        .filter
                        .as_ref()
                        .is_none_or(|f| f.matches_in(u, schemas))
                })
                .cloned()
                .collect()
        });
        // Sort (stable: ties keep creation order), then page, counting every match.
        if let Some(sort) = &query.sort {
            matching = sort.sort_in(matching, schemas);
        }
        Ok(query.page(matching.into_iter()))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The conformance suite every store should pass: versions, uniqueness, tenants,
    // compare-and-swap, lists.
    scimkit::testing::check_user_store(MapStore::default).await;
    println!("MapStore passes scimkit's store conformance suite");

    let server = scimkit::ScimServer::builder()
        .store(MapStore::default())
        .authenticator(
            scimkit::StaticKeyAuthenticator::new()
                .with_key("s3cret", scimkit::Principal::new("acme", "key-1")),
        )
        .build()
        .expect("valid configuration");
    let request = http::Request::post("/scim/v2/Users")
        .header("Authorization", "Bearer s3cret")
        .header("Content-Type", "application/scim+json")
        .body(
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}"#
                .to_vec(),
        )
        .expect("a valid request");
    let response = server.handle(request).await;
    println!(
        "POST /Users on MapStore: {} {}",
        response.status(),
        String::from_utf8_lossy(response.body())
    );
}
