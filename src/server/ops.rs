//! The provisioning operations behind the `/Users` endpoints, without HTTP: what a POST,
//! PUT, PATCH or DELETE does to the store. Hosts call them directly for work that is not
//! a SCIM request (CSV imports, admin consoles), so every path shares one validation,
//! one uniqueness rule and one concurrency discipline.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};

use super::ScimServer;
use crate::error::ScimError;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::list::ListQuery;
use crate::patch::PatchRequest;
use crate::resource::{Meta, User};
use crate::schema::SchemaSet;
use crate::store::{RequestContext, StoreError};

/// The one place a [`StoreError`] becomes a [`ScimError`]. Backend failures are logged
/// with the request id and become a generic 500.
pub(crate) fn store_error(
    e: StoreError,
    ctx: &RequestContext,
    user_name: Option<&str>,
) -> ScimError {
    match e {
        StoreError::NotFound => ScimError::NotFound("User not found".into()),
        StoreError::Uniqueness { attribute } => match (attribute.as_str(), user_name) {
            ("userName", Some(name)) => ScimError::Uniqueness(format!(
                "userName {name:?} is already taken (userName is unique, case-insensitively)"
            )),
            _ => ScimError::Uniqueness(format!("{attribute} is already taken")),
        },
        StoreError::VersionMismatch => ScimError::PreconditionFailed(
            "the resource has changed: If-Match does not match its current version".into(),
        ),
        StoreError::InvalidFilter(m) => ScimError::InvalidFilter(m),
        StoreError::Backend(cause) => {
            tracing::error!(request_id = %ctx.request_id, tenant = %ctx.tenant, error = %cause, "user store failure");
            ScimError::Internal {
                request_id: ctx.request_id.clone(),
            }
        }
    }
}

/// Whether a precondition header's entity tags (one, or a comma-separated list) include
/// `current`, under weak comparison (RFC 9110 §8.8.3.2, §13.1.1).
pub(crate) fn etag_matches(header: &str, current: &str) -> bool {
    let current = current.trim_start_matches("W/");
    header
        .split(',')
        .map(str::trim)
        .any(|t| !t.is_empty() && t.trim_start_matches("W/") == current)
}

/// The user a PUT produces: the client's attributes, with the server's `id`, `meta`
/// (new `lastModified`) and read-only `groups`; `active` and `password` kept when omitted,
/// and the extension values the client could not see or set
/// ([`carry_over`](crate::resource::carry_over)).
fn merge_put(current: &User, mut incoming: User, schemas: &SchemaSet) -> User {
    incoming.id = current.id.clone();
    incoming.groups = current.groups.clone();
    if incoming.active.is_none() {
        incoming.active = current.active;
    }
    if incoming.password.is_none() {
        incoming.password = current.password.clone();
    }
    crate::resource::carry_over(current, &mut incoming, true, schemas);
    let now = Utc::now().trunc_subsecs(3);
    incoming.meta = current.meta.clone().map(|mut m| {
        m.last_modified = now.max(m.created);
        m
    });
    incoming
}

/// Whether an update leaves the user as it was (ignoring `meta.lastModified`). Compares
/// in place (`next`'s timestamp is set aside and put back) rather than on a copy.
fn unchanged(current: &User, next: &mut User) -> bool {
    let (Some(m), Some(c)) = (next.meta.as_mut(), current.meta.as_ref()) else {
        return next == current;
    };
    let own = std::mem::replace(&mut m.last_modified, c.last_modified);
    let same = next == current;
    if let Some(m) = next.meta.as_mut() {
        m.last_modified = own;
    }
    same
}

impl ScimServer {
    /// Checks a user against the host's required attributes (400 `invalidValue` listing
    /// what is missing) and the server's bounds on multi-valued attributes and user size
    /// (400 `invalidValue`), as every write does. For dry runs and admin tools that want
    /// the server's verdict without writing.
    pub fn validate_user(&self, user: &User) -> Result<(), ScimError> {
        super::required::check(&self.inner.required, user)?;
        super::limit::check_user(&self.inner.config, user)
    }

    /// `ctx` with this server's schemas, which the store encodes extension values by (a
    /// host's own context, such as [`RequestContext::system`], has only the core ones);
    /// borrowed when it has them already, as every request's context does.
    fn with_schemas<'c>(&self, ctx: &'c RequestContext) -> std::borrow::Cow<'c, RequestContext> {
        if ctx.schemas() == &*self.inner.schemas {
            std::borrow::Cow::Borrowed(ctx)
        } else {
            std::borrow::Cow::Owned(ctx.clone().with_schemas(Arc::clone(&self.inner.schemas)))
        }
    }

    /// Creates a user as `POST /Users` does: checks the host's required attributes,
    /// assigns `id` and `meta`, and stores it (409 `uniqueness` when the `userName` is
    /// taken in the tenant, in any letter case).
    pub async fn create_user(
        &self,
        ctx: &RequestContext,
        mut user: User,
    ) -> Result<Arc<User>, ScimError> {
        let ctx = &*self.with_schemas(ctx);
        super::required::check(&self.inner.required, &user)?;
        user.id = Some(uuid::Uuid::new_v4().to_string().into());
        user.meta = Some(Meta::new("User", Utc::now().trunc_subsecs(3)));
        user.groups.clear();
        super::limit::check_user(&self.inner.config, &user)?;
        let user_name = user.user_name.clone();
        self.inner
            .store
            .create(ctx, user)
            .await
            .map_err(|e| store_error(e, ctx, Some(&user_name)))
    }

    /// The user with this id in the tenant (404 when there is none).
    pub async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<Arc<User>, ScimError> {
        self.inner
            .store
            .get(ctx, id)
            .await
            .map_err(|e| store_error(e, ctx, None))?
            .ok_or_else(|| ScimError::NotFound(format!("User {id:?} not found")))
    }

    /// The user with this `userName` in the tenant (compared case-insensitively), if any.
    pub async fn find_user_by_user_name(
        &self,
        ctx: &RequestContext,
        user_name: &str,
    ) -> Result<Option<Arc<User>>, ScimError> {
        let filter = Filter::Compare {
            path: AttrPath {
                urn: None,
                name: "userName".into(),
                sub_attr: None,
            },
            op: CompareOp::Eq,
            value: CompValue::String(user_name.to_owned()),
        };
        let page = self
            .inner
            .store
            .list(ctx, &ListQuery::all(1).with_filter(filter))
            .await
            .map_err(|e| store_error(e, ctx, None))?;
        Ok(page.resources.into_iter().next())
    }

    /// Replaces a user as `PUT /Users/{id}` does: the incoming attributes replace the
    /// writable ones, except that an omitted `active` or `password` keeps its value.
    /// `if_match` is the client's `If-Match` (412 when stale).
    pub async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        incoming: User,
        if_match: Option<&str>,
    ) -> Result<Arc<User>, ScimError> {
        self.update_user(ctx, id, if_match, |current| {
            Ok(merge_put(current, incoming.clone(), &self.inner.schemas))
        })
        .await
    }

    /// Applies a PATCH request as `PATCH /Users/{id}` does.
    pub async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        request: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<Arc<User>, ScimError> {
        let compat = &self.inner.config.compatibility;
        let max_operations = self.inner.config.max_patch_operations;
        if request.operations.len() > max_operations {
            return Err(ScimError::InvalidValue(format!(
                "a PATCH request holds {} operations; this server accepts at most {max_operations}",
                request.operations.len()
            )));
        }
        let max_elements = self.inner.config.max_multi_valued_elements;
        let schemas = &self.inner.schemas;
        self.update_user(ctx, id, if_match, |current| {
            let mut next = request.apply_bounded(current, compat, max_elements, schemas)?;
            crate::resource::carry_over(current, &mut next, false, schemas);
            if let Some(meta) = next.meta.as_mut() {
                meta.last_modified = Utc::now().trunc_subsecs(3).max(meta.created);
            }
            Ok(next)
        })
        .await
    }

    /// Read → change → compare-and-swap write, the shape of every update (invariant 2).
    /// With `if_match` the client's version is the expected one (412 on mismatch);
    /// without it, a lost race is retried on a fresh read, a bounded number of times
    /// (`max_write_retries`, then 409), so no update is lost. A change that alters
    /// nothing is not written. The host's required attributes are checked on the result.
    pub async fn update_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        if_match: Option<&str>,
        change: impl Fn(&User) -> Result<User, ScimError>,
    ) -> Result<Arc<User>, ScimError> {
        let ctx = &*self.with_schemas(ctx);
        let retries = self.inner.config.max_write_retries;
        for _ in 0..=retries {
            let current = self.get_user(ctx, id).await?;
            let expected = current.version().unwrap_or_default().to_owned();
            let if_match = self.own_if_match(if_match, &expected);
            if let Some(tag) = if_match {
                if !etag_matches(tag, &expected) {
                    return Err(store_error(StoreError::VersionMismatch, ctx, None));
                }
            }
            let mut next = change(&current)?;
            crate::resource::check_immutable(&current, &next, &self.inner.schemas)?;
            super::required::check(&self.inner.required, &next)?;
            super::limit::check_user(&self.inner.config, &next)?;
            if unchanged(&current, &mut next) {
                return Ok(current);
            }
            let user_name = next.user_name.clone();
            match self.inner.store.replace(ctx, next, Some(&expected)).await {
                Ok(stored) => return Ok(stored),
                // Lost a race with another writer: without If-Match, read again and retry.
                Err(StoreError::VersionMismatch) if if_match.is_none() => continue,
                Err(e) => return Err(store_error(e, ctx, Some(&user_name))),
            }
        }
        Err(ScimError::Conflict(
            "the user is being changed concurrently; retry the request".into(),
        ))
    }

    /// The client's `If-Match`, or `None` when it names only tags that cannot be one of
    /// this server's versions and the `foreign_if_match_ignored` tolerance is on
    /// (Canaille sends tags of its own; see [`crate::compat`]).
    fn own_if_match<'t>(&self, if_match: Option<&'t str>, current: &str) -> Option<&'t str> {
        if_match.filter(|tag| {
            !(self.inner.config.compatibility.foreign_if_match_ignored
                && crate::compat::foreign_etags(tag, current))
        })
    }

    /// Deletes a user as `DELETE /Users/{id}` does (404 when there is none; 412 when
    /// `if_match` is stale).
    pub async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError> {
        let expected = match if_match {
            Some(tag) => {
                // Compare weakly against the stored version, then delete with CAS on it.
                let current = self.get_user(ctx, id).await?;
                let v = current.version().unwrap_or_default().to_owned();
                if self.own_if_match(Some(tag), &v).is_none() {
                    None
                } else if !etag_matches(tag, &v) {
                    return Err(store_error(StoreError::VersionMismatch, ctx, None));
                } else {
                    Some(v)
                }
            }
            None => None,
        };
        self.inner
            .store
            .delete(ctx, id, expected.as_deref())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ScimError::NotFound(format!("User {id:?} not found")),
                e => store_error(e, ctx, None),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_compare_weakly() {
        assert!(etag_matches("W/\"3\"", "W/\"3\""));
        assert!(etag_matches("\"3\"", "W/\"3\""));
        assert!(!etag_matches("W/\"4\"", "W/\"3\""));
    }

    #[test]
    fn put_keeps_active_and_password_when_omitted() {
        let mut current = User::new("a");
        current.id = Some("1".into());
        current.active = Some(false);
        current.password = Some(crate::resource::Secret::new("p"));
        current.meta = Some(Meta::new("User", Utc::now()));
        let merged = merge_put(&current, User::new("b"), SchemaSet::core());
        assert_eq!(merged.id.as_deref(), Some("1"));
        assert_eq!(merged.active, Some(false));
        assert!(merged.password.is_some());
        assert_eq!(merged.user_name, "b");
    }
}
