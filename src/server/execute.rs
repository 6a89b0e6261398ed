//! Execute: an [`Operation`] for a [`RequestContext`] → an [`Outcome`], through the
//! store. The only async stage after authentication, and the only one that sees the store.
//!
//! The provisioning operations behind the `/Users` endpoints are methods of
//! [`ScimServer`] that hosts also call directly for work that is not a SCIM request (CSV
//! imports, admin consoles), so every path shares one validation, one uniqueness rule
//! and one concurrency discipline. Every [`StoreError`] becomes a [`ScimError`] in one
//! function, [`store_error`].

use std::sync::Arc;

use chrono::{SubsecRound, Utc};

use super::ScimServer;
use super::cursor::Position;
use super::discovery;
use super::parse::{ListRequest, Operation};
use super::render::{self, Outcome};
use super::route::Document;
use crate::context::RequestContext;
use crate::error::{ScimError, StoreError};
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::list::{ListPage, ListQuery, ListResponse};
use crate::patch::PatchRequest;
use crate::resource::{Meta, User};
use crate::schema::SchemaSet;

/// What a store call was about: what the one mapping of its errors names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call<'a> {
    /// The user with this id (read, replaced or deleted).
    User(&'a str),
    /// Writing a user with this `userName`: a taken name is named in the 409; `id` is the
    /// user's when it exists already.
    Write {
        id: Option<&'a str>,
        user_name: &'a str,
    },
    /// A list; with `cursor`, a filter the store cannot continue is an invalid cursor.
    List { cursor: bool },
    /// The group with this id (read, changed or deleted).
    Group(&'a str),
    /// A list of groups, or the groups of a page of users.
    GroupList,
    /// Writing a group with this `displayName` (empty when the write keeps the name).
    GroupWrite {
        id: Option<&'a str>,
        display_name: &'a str,
    },
}

/// The one place a [`StoreError`] becomes a [`ScimError`]. Backend failures are logged
/// with the request id and become a generic 500 carrying it.
pub(crate) fn store_error(e: StoreError, ctx: &RequestContext, call: Call<'_>) -> ScimError {
    match e {
        StoreError::NotFound => match call {
            Call::User(id) | Call::Write { id: Some(id), .. } => {
                ScimError::NotFound(format!("User {id:?} not found"))
            }
            Call::Group(id) | Call::GroupWrite { id: Some(id), .. } => {
                ScimError::NotFound(format!("Group {id:?} not found"))
            }
            _ => ScimError::NotFound("User not found".into()),
        },
        StoreError::Uniqueness { attribute } => match (attribute.as_str(), call) {
            ("userName", Call::Write { user_name, .. }) => ScimError::Uniqueness(format!(
                "userName {user_name:?} is already taken (userName is unique, case-insensitively)"
            )),
            ("displayName", Call::GroupWrite { display_name, .. }) if !display_name.is_empty() => {
                ScimError::Uniqueness(format!(
                    "a group named {display_name:?} exists already (displayName is unique, case-insensitively)"
                ))
            }
            _ => ScimError::Uniqueness(format!("{attribute} is already taken")),
        },
        StoreError::VersionMismatch => ScimError::PreconditionFailed(
            "the resource has changed: If-Match does not match its current version".into(),
        ),
        StoreError::InvalidFilter(_) if matches!(call, Call::List { cursor: true }) => {
            ScimError::InvalidCursor("the cursor is not valid for this query".into())
        }
        StoreError::InvalidFilter(m) => ScimError::InvalidFilter(m),
        StoreError::Backend(cause) => {
            if matches!(
                call,
                Call::Group(_) | Call::GroupWrite { .. } | Call::GroupList
            ) {
                tracing::error!(request_id = %ctx.request_id, tenant = %ctx.tenant, error = %cause, "group store failure");
            } else {
                tracing::error!(request_id = %ctx.request_id, tenant = %ctx.tenant, error = %cause, "user store failure");
            }
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

    /// Executes `op` for `ctx`; `base` is the absolute URL of the SCIM API (for the
    /// discovery documents and the users of a list).
    pub(super) async fn execute(
        &self,
        op: Operation<'_>,
        ctx: &RequestContext,
        base: &str,
    ) -> Result<Outcome, ScimError> {
        let inner = &self.inner;
        let user = |user, created, projection| Outcome::User {
            user,
            created,
            projection,
        };
        // The writes hold users across their awaits (2-3 KB of state, against 170 bytes
        // for a GET): boxed, so that the future of every request is not as large as
        // theirs (hosts move and box it; it was 4 KB).
        Ok(match op {
            Operation::ListUsers(list) => Outcome::List(self.list(list, ctx, base).await?),
            Operation::CreateUser {
                user: new,
                projection,
            } => user(
                Box::pin(self.create_user(ctx, *new)).await?,
                true,
                projection,
            ),
            Operation::GetUser {
                id,
                projection,
                if_none_match,
            } => {
                let mut found = [self.get_user(ctx, &id).await?];
                if let (Some(tag), Some(current)) = (if_none_match, found[0].version()) {
                    if tag.split(',').any(|t| etag_matches(t.trim(), current)) {
                        return Ok(Outcome::NotModified(current.to_owned()));
                    }
                }
                self.with_groups(ctx, &mut found, &projection, base).await?;
                let [found] = found;
                user(found, false, projection)
            }
            Operation::ReplaceUser {
                id,
                user: incoming,
                if_match,
                projection,
            } => {
                let replace = self.replace_user(ctx, &id, *incoming, if_match.as_deref());
                let mut replaced = [Box::pin(replace).await?];
                self.with_groups(ctx, &mut replaced, &projection, base)
                    .await?;
                let [replaced] = replaced;
                user(replaced, false, projection)
            }
            Operation::PatchUser {
                id,
                patch,
                if_match,
                projection,
            } => {
                let patched = self.patch_user(ctx, &id, &patch, if_match.as_deref());
                let mut patched = [Box::pin(patched).await?];
                self.with_groups(ctx, &mut patched, &projection, base)
                    .await?;
                let [patched] = patched;
                user(patched, false, projection)
            }
            Operation::DeleteUser { id, if_match } => {
                self.delete_user(ctx, &id, if_match.as_deref()).await?;
                Outcome::NoContent
            }
            Operation::Group(op) => return self.execute_group(op, ctx, base).await,
            Operation::ListGroups => {
                Outcome::List(render::list(0, &[], &[], |page| ListResponse::new(page, 1)))
            }
            Operation::Document(d) => Outcome::Document({
                let groups = inner.config.groups;
                match d {
                    Document::ServiceProviderConfig => {
                        discovery::service_provider_config(&inner.config, base)
                    }
                    Document::ResourceTypes => {
                        discovery::resource_types(base, &inner.required, &inner.schemas, groups)
                    }
                    Document::ResourceType(name) => discovery::resource_type(
                        base,
                        &name,
                        &inner.required,
                        &inner.schemas,
                        groups,
                    )?,
                    Document::Schemas => {
                        discovery::schemas(base, &inner.required, &inner.schemas, groups)
                    }
                    Document::Schema(id) => {
                        discovery::schema(base, &id, &inner.required, &inner.schemas, groups)?
                    }
                }
            }),
        })
    }

    /// A list or search: one page of users, rendered within the byte budget, as a
    /// ListResponse.
    async fn list(
        &self,
        list: ListRequest,
        ctx: &RequestContext,
        base: &str,
    ) -> Result<Vec<u8>, ScimError> {
        let inner = &self.inner;
        let ListRequest {
            mut query,
            projection,
            cursor,
            groups,
        } = list;
        let now = Utc::now().timestamp();
        // RFC 9865: with a cursor, the client's position is checked and handed to the
        // store (native cursors) or turned into an offset.
        let position = match cursor.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(c) => Some(Some(inner.cursors.decode(c, &ctx.tenant, &query, now)?)),
        };
        let native = inner.store.supports_cursors();
        let offset = match &position {
            Some(Some(Position::Offset(n))) if !native => *n,
            Some(Some(Position::Store(s))) if native => {
                query.cursor = Some(s.clone());
                0
            }
            Some(Some(_)) => {
                return Err(ScimError::InvalidCursor(
                    "the cursor is not valid for this query".into(),
                ));
            }
            Some(None) if native => {
                query.cursor = Some(String::new());
                0
            }
            Some(None) | None => 0,
        };
        if position.is_some() && !native {
            query.start_index = offset.saturating_add(1);
        }
        let budget = inner.config.max_list_bytes;
        let mut page = self.list_page(ctx, &query).await?;
        self.with_groups(ctx, &mut page.resources, &projection, base)
            .await?;
        // A page whose resources pass the byte budget is cut short, as RFC 7644
        // §3.4.2.4 lets a server return fewer results than asked (`itemsPerPage` says
        // how many); offsets and this server's cursors then continue after the last
        // resource returned. A store's own cursor points past the page the store
        // returned, so such a store is asked again for the shorter page (at most as
        // many times as the page shrinks; rarely more than once).
        let (mut body, mut ends) = render::page(
            &page.resources,
            base,
            &projection,
            budget,
            &self.inner.schemas,
        );
        while native && query.cursor.is_some() && ends.len() < page.resources.len() {
            query.count = ends.len();
            page = self.list_page(ctx, &query).await?;
            self.with_groups(ctx, &mut page.resources, &projection, base)
                .await?;
            (body, ends) = render::page(
                &page.resources,
                base,
                &projection,
                budget,
                &self.inner.schemas,
            );
        }
        let mut total = page.total_results;
        if let Some(groups) = groups {
            // `POST /.search`: the groups follow the users, one list paged as a whole.
            let full = ends.len() >= query.count || ends.len() < page.resources.len();
            let mut gq = groups.query;
            gq.start_index = query.start_index.saturating_sub(total).max(1);
            gq.count = if full { 0 } else { query.count - ends.len() };
            let found = self.list_groups(ctx, &gq).await?;
            for group in &found.resources {
                crate::group::write_group(group, base, &groups.projection, &mut body);
                ends.push(body.len());
            }
            total = total.saturating_add(found.total_results);
        }
        if position.is_none() {
            let start = query.start_index;
            return Ok(render::list(total, &body, &ends, |p| {
                ListResponse::new(p, start)
            }));
        }
        let returned = ends.len();
        let encode = |p: Position| inner.cursors.encode(&ctx.tenant, &query, &p, now);
        let (next, previous) = if native {
            (page.next_cursor.map(|s| encode(Position::Store(s))), None)
        } else {
            let end = offset.saturating_add(returned);
            let next = (returned > 0 && end < total).then(|| encode(Position::Offset(end)));
            let previous =
                (offset > 0).then(|| encode(Position::Offset(offset.saturating_sub(query.count))));
            (next, previous)
        };
        Ok(render::list(total, &body, &ends, |p| {
            ListResponse::with_cursors(p, next, previous)
        }))
    }

    /// One page from the store.
    async fn list_page(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, ScimError> {
        let call = Call::List {
            cursor: query.cursor.is_some(),
        };
        self.inner
            .store
            .list(ctx, query)
            .await
            .map_err(|e| store_error(e, ctx, call))
    }

    /// Checks a user against the host's required attributes (400 `invalidValue` listing
    /// what is missing) and the server's bounds on multi-valued attributes and user size
    /// (400 `invalidValue`), as every write does. For dry runs and admin tools that want
    /// the server's verdict without writing.
    pub fn validate_user(&self, user: &User) -> Result<(), ScimError> {
        super::required::check(&self.inner.required, user)?;
        super::limit::check_user(&self.inner.config, user)
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
        // A time-ordered UUID (version 7: the millisecond of creation, which `meta.created`
        // shows anyway, then 74 random bits): new ids land at the end of a store's id
        // index instead of on a random page of it, so a SQL store writes one index page per
        // commit for them rather than one per user.
        user.id = Some(uuid::Uuid::now_v7().to_string().into());
        user.meta = Some(Meta::new("User", Utc::now().trunc_subsecs(3)));
        user.groups.clear();
        super::limit::check_user(&self.inner.config, &user)?;
        let user_name = user.user_name.clone();
        self.inner.store.create(ctx, user).await.map_err(|e| {
            let call = Call::Write {
                id: None,
                user_name: &user_name,
            };
            store_error(e, ctx, call)
        })
    }

    /// The user with this id in the tenant (404 when there is none).
    pub async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<Arc<User>, ScimError> {
        let call = Call::User(id);
        self.inner
            .store
            .get(ctx, id)
            .await
            .map_err(|e| store_error(e, ctx, call))?
            .ok_or_else(|| store_error(StoreError::NotFound, ctx, call))
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
            .map_err(|e| store_error(e, ctx, Call::List { cursor: false }))?;
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
        super::limit::check_patch_operations(&self.inner.config, request)?;
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
        // The first attempt may start from the user the store keeps (no round trip), which
        // may be stale; every answer that depends on it being current is checked on a
        // fresh read instead (`UserStore::kept`).
        let mut kept = self.inner.store.kept(ctx, id);
        let mut attempt = 0;
        while attempt <= retries {
            let (current, fresh) = match kept.take() {
                Some(user) => (user, false),
                None => (self.get_user(ctx, id).await?, true),
            };
            let expected = current.version().unwrap_or_default().to_owned();
            let if_match = self.own_if_match(if_match, &expected);
            // The user to write (`None`: the change alters nothing), or why not.
            let next = (|| {
                if if_match.is_some_and(|tag| !etag_matches(tag, &expected)) {
                    let mismatch = StoreError::VersionMismatch;
                    return Err(store_error(mismatch, ctx, Call::User(id)));
                }
                let mut next = change(&current)?;
                crate::resource::check_immutable(&current, &next, &self.inner.schemas)?;
                super::required::check(&self.inner.required, &next)?;
                super::limit::check_user(&self.inner.config, &next)?;
                Ok((!unchanged(&current, &mut next)).then_some(next))
            })();
            let next = match (next, fresh) {
                (Ok(Some(next)), _) => next,
                // A kept user may be stale: only a write, proven by its swap, is answered
                // from it; a mismatched If-Match, a refusal or no change is decided on the
                // user as stored.
                (_, false) => continue,
                (Ok(None), true) => return Ok(current),
                (Err(e), true) => return Err(e),
            };
            let user_name = next.user_name.clone();
            match self.inner.store.replace(ctx, next, Some(&expected)).await {
                Ok(stored) => return Ok(stored),
                // Started from a kept user that was stale: read it and try again.
                Err(StoreError::VersionMismatch) if !fresh => continue,
                // Lost a race with another writer: without If-Match, read again and retry.
                Err(StoreError::VersionMismatch) if if_match.is_none() => {
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    let call = Call::Write {
                        id: Some(id),
                        user_name: &user_name,
                    };
                    return Err(store_error(e, ctx, call));
                }
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
                    return Err(store_error(
                        StoreError::VersionMismatch,
                        ctx,
                        Call::User(id),
                    ));
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
            .map_err(|e| store_error(e, ctx, Call::User(id)))?;
        // The user is gone: its memberships go too. Should that fail, the delete stands
        // (the failure is logged): group stores never show a member that is not a user.
        let _ = self.forget_member(ctx, id).await;
        Ok(())
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
