//! Execute, for groups: a [`GroupOperation`] → an [`Outcome`] through the server's
//! [`GroupStore`](crate::group::GroupStore). As for users, the operations are methods of
//! [`ScimServer`] that hosts also call directly (an admin console listing an account's
//! groups), and every store error becomes a SCIM error in
//! [`store_error`](super::execute::store_error).
//!
//! Membership edits reach the store as edits: no write reads the member list first.
//! `If-Match` reads the group's version (without members) and makes the write a
//! compare-and-swap on it; without `If-Match` a write applies to whatever version is
//! stored, which loses nothing, since edits are relations, not a rewritten list.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};

use super::ScimServer;
use super::execute::{Call, etag_matches, store_error};
use super::parse_group::GroupOperation;
use super::render::{self, Outcome};
use crate::context::RequestContext;
use crate::error::ScimError;
use crate::group::{Group, GroupChange, GroupProjection, GroupQuery, GroupStore, write_group};
use crate::list::{ListPage, ListResponse};
use crate::resource::Meta;

impl ScimServer {
    /// The group store; 501 when the server does not serve groups.
    fn group_store(&self) -> Result<&Arc<dyn GroupStore>, ScimError> {
        self.inner.groups.as_ref().ok_or_else(|| {
            ScimError::NotImplemented("groups are not supported by this server".into())
        })
    }

    /// Executes a `/Groups` operation.
    pub(super) async fn execute_group(
        &self,
        op: GroupOperation<'_>,
        ctx: &RequestContext,
        base: &str,
    ) -> Result<Outcome, ScimError> {
        let group = |group, created, projection| Outcome::Group {
            group: Box::new(group),
            created,
            projection,
        };
        Ok(match op {
            GroupOperation::List { query, projection } => {
                let page = self.list_groups(ctx, &query).await?;
                Outcome::List(group_page(page, query.start_index, base, &projection))
            }
            GroupOperation::Create {
                group: new,
                projection,
            } => group(self.create_group(ctx, new).await?, true, projection),
            GroupOperation::Get {
                id,
                projection,
                if_none_match,
            } => {
                let found = self.get_group(ctx, &id, projection.shows_members()).await?;
                if let (Some(tag), Some(current)) = (if_none_match, found.version()) {
                    if etag_matches(&tag, current) {
                        return Ok(Outcome::NotModified(current.to_owned()));
                    }
                }
                group(found, false, projection)
            }
            GroupOperation::Replace {
                id,
                group: new,
                if_match,
                projection,
            } => {
                let change = GroupChange::replace(&new);
                let members = projection.shows_members();
                let replaced = self
                    .patch_group(ctx, &id, &change, if_match.as_deref(), members)
                    .await?;
                group(replaced, false, projection)
            }
            GroupOperation::Patch {
                id,
                change,
                if_match,
                projection,
            } => {
                let members = projection
                    .as_ref()
                    .is_some_and(GroupProjection::shows_members);
                let patched = self
                    .patch_group(ctx, &id, &change, if_match.as_deref(), members)
                    .await?;
                match projection {
                    Some(projection) => group(patched, false, projection),
                    None => Outcome::NoContent,
                }
            }
            GroupOperation::Delete { id, if_match } => {
                self.delete_group(ctx, &id, if_match.as_deref()).await?;
                Outcome::NoContent
            }
        })
    }

    /// Creates a group as `POST /Groups` does: assigns `id` and `meta` and stores it with
    /// its members (409 `uniqueness` when the `displayName` is taken in the tenant, in
    /// any letter case). Member ids naming no user of the tenant are skipped.
    pub async fn create_group(
        &self,
        ctx: &RequestContext,
        mut group: Group,
    ) -> Result<Group, ScimError> {
        let store = self.group_store()?;
        group.id = Some(uuid::Uuid::new_v4().to_string().into());
        group.meta = Some(Meta::new("Group", Utc::now().trunc_subsecs(3)));
        let name = group.display_name.clone();
        store.create(ctx, group).await.map_err(|e| {
            let call = Call::GroupWrite {
                id: None,
                display_name: &name,
            };
            store_error(e, ctx, call)
        })
    }

    /// The group with this id in the tenant, with its members when `members` (404 when
    /// there is none).
    pub async fn get_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        members: bool,
    ) -> Result<Group, ScimError> {
        let call = Call::Group(id);
        self.group_store()?
            .get(ctx, id, members)
            .await
            .map_err(|e| store_error(e, ctx, call))?
            .ok_or_else(|| store_error(crate::error::StoreError::NotFound, ctx, call))
    }

    /// Applies `change` to the group as `PATCH /Groups/{id}` (and `PUT`) does, in one
    /// atomic store call; with `if_match`, only if the group's version matches (412
    /// otherwise). Returns the group after the change, with members when `members`.
    pub async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        change: &GroupChange,
        if_match: Option<&str>,
        members: bool,
    ) -> Result<Group, ScimError> {
        let store = self.group_store()?;
        let expected = match if_match {
            Some(tag) => Some(self.matching_version(ctx, id, tag).await?),
            None => None,
        };
        let now = Utc::now().trunc_subsecs(3);
        let name = change.display_name.as_deref().unwrap_or_default();
        store
            .update(ctx, id, change, now, expected.as_deref(), members)
            .await
            .map_err(|e| {
                let call = Call::GroupWrite {
                    id: Some(id),
                    display_name: name,
                };
                store_error(e, ctx, call)
            })
    }

    /// Deletes the group and its memberships as `DELETE /Groups/{id}` does.
    pub async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError> {
        let store = self.group_store()?;
        let expected = match if_match {
            Some(tag) => Some(self.matching_version(ctx, id, tag).await?),
            None => None,
        };
        store
            .delete(ctx, id, expected.as_deref())
            .await
            .map_err(|e| store_error(e, ctx, Call::Group(id)))
    }

    /// One page of the tenant's groups.
    pub async fn list_groups(
        &self,
        ctx: &RequestContext,
        query: &GroupQuery,
    ) -> Result<ListPage<Group>, ScimError> {
        self.group_store()?
            .list(ctx, query)
            .await
            .map_err(|e| store_error(e, ctx, Call::GroupList))
    }

    /// Removes a deleted user from every group (when groups are served).
    pub(super) async fn forget_member(
        &self,
        ctx: &RequestContext,
        user_id: &str,
    ) -> Result<(), ScimError> {
        match &self.inner.groups {
            Some(store) => store
                .remove_user(ctx, user_id)
                .await
                .map_err(|e| store_error(e, ctx, Call::User(user_id))),
            None => Ok(()),
        }
    }

    /// `users` with `groups` filled in from the group store's memberships (RFC 7643
    /// §4.1.2: read-only, derived), each entry's `$ref` under `base`; unchanged when the
    /// server serves no groups or the response does not show `groups` (`projection`).
    /// One store call for the whole page.
    pub(super) async fn with_groups(
        &self,
        ctx: &RequestContext,
        users: &mut [Arc<crate::resource::User>],
        projection: &crate::projection::Projection,
        base: &str,
    ) -> Result<(), ScimError> {
        let Some(store) = &self.inner.groups else {
            return Ok(());
        };
        let groups = crate::schema::user_attribute(None, "groups");
        let shown = !matches!(
            projection.keep(None, groups, "groups"),
            crate::projection::Keep::Drop
        );
        if users.is_empty() || !shown {
            return Ok(());
        }
        let ids: Vec<&str> = users.iter().filter_map(|u| u.id.as_deref()).collect();
        let found = store
            .groups_of(ctx, &ids)
            .await
            .map_err(|e| store_error(e, ctx, Call::GroupList))?;
        let mut by_user: std::collections::HashMap<String, Vec<_>> =
            std::collections::HashMap::new();
        for (user, mut membership) in found {
            if let Some(group) = &membership.value {
                membership.reference = Some(format!("{base}/Groups/{group}").as_str().into());
            }
            by_user
                .entry(user.to_string())
                .or_default()
                .push(membership);
        }
        for user in users.iter_mut() {
            let mut groups = user
                .id
                .as_deref()
                .and_then(|id| by_user.remove(id))
                .unwrap_or_default();
            groups.sort_by(|a, b| a.display.cmp(&b.display));
            if groups != user.groups {
                Arc::make_mut(user).groups = groups;
            }
        }
        Ok(())
    }

    /// The group's current version when `tag` (an `If-Match` value) matches it; 412
    /// otherwise, 404 when there is no such group.
    async fn matching_version(
        &self,
        ctx: &RequestContext,
        id: &str,
        tag: &str,
    ) -> Result<String, ScimError> {
        let current = self.get_group(ctx, id, false).await?;
        match current.version() {
            Some(v) if etag_matches(tag, v) => Ok(v.to_owned()),
            _ => Err(ScimError::PreconditionFailed(
                "the resource has changed: If-Match does not match its current version".into(),
            )),
        }
    }
}

/// A page of groups as a ListResponse, each with its location and projection.
fn group_page(
    page: ListPage<Group>,
    start_index: usize,
    base: &str,
    projection: &GroupProjection,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(256 * page.resources.len().max(1));
    let mut ends = Vec::with_capacity(page.resources.len());
    for group in &page.resources {
        write_group(group, base, projection, &mut body);
        ends.push(body.len());
    }
    render::list(page.total_results, &body, &ends, |p| {
        ListResponse::new(p, start_index)
    })
}
