//! The storage boundary of groups: [`GroupStore`].

use async_trait::async_trait;

use super::{Group, GroupChange, GroupFilter};
use crate::context::RequestContext;
use crate::error::StoreError;
use crate::list::ListPage;
use crate::resource::{CompactString, GroupMembership};

/// A page of groups to list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupQuery {
    /// The filter, if any, in the form group stores serve.
    pub filter: Option<GroupFilter>,
    /// 1-based index of the first result; at least 1.
    pub start_index: usize,
    /// The most results to return (`0`: the count only).
    pub count: usize,
    /// Whether each group's members are read (`excludedAttributes=members` says no).
    pub members: bool,
}

impl GroupQuery {
    /// Every group, first page of `count`, with members.
    pub fn all(count: usize) -> Self {
        Self {
            filter: None,
            start_index: 1,
            count,
            members: true,
        }
    }

    /// This query with a filter.
    #[must_use]
    pub fn filter(mut self, filter: GroupFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// This query from `start_index` (1-based).
    #[must_use]
    pub fn start_index(mut self, start_index: usize) -> Self {
        self.start_index = start_index.max(1);
        self
    }

    /// This query reading members or not.
    #[must_use]
    pub fn members(mut self, members: bool) -> Self {
        self.members = members;
        self
    }
}

/// Persistence of Group resources and their memberships. Object-safe: use it as
/// `Arc<dyn GroupStore>`.
///
/// The contract every implementation keeps (and
/// `scimkit::testing::groups::check_group_store` checks, feature `testing`):
///
/// - **Tenants never meet**: every call is scoped by [`RequestContext::tenant`]; members
///   are users of the same tenant only.
/// - **Memberships are relations**: [`GroupStore::update`] applies each
///   [`MemberEdit`](super::MemberEdit) to the stored relations in one atomic step, in
///   time that grows with the edit, not with the group. Adding a member already there,
///   or removing one that is not, changes nothing; an id naming no user of the tenant is
///   skipped.
/// - **`displayName` is unique per tenant**, case-insensitively, on create and on rename
///   ([`StoreError::Uniqueness`] naming `displayName`); of two racing writes one wins.
/// - **Versions**: `meta.version` changes on every successful write (membership edits
///   included); `update` and `delete` with an expected version are compare-and-swap.
/// - **Deleting a user removes its memberships**: the server calls
///   [`GroupStore::remove_user`] after deleting one; reads never show a member that is not
///   a user of the tenant.
/// - **Paging** is in a stable order (creation order); `total_results` counts every match.
/// - A member is returned with `value` (the user's id) and `type: "User"`; the server
///   fills in `$ref` (and shows no `display`).
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Stores a new group (with `id` and `meta` set except `meta.version`) and its members
    /// (`group.members`, by `value`), and returns it as stored, with its members.
    async fn create(&self, ctx: &RequestContext, group: Group) -> Result<Group, StoreError>;

    /// The group with this id in the tenant, with its members when `members`.
    async fn get(
        &self,
        ctx: &RequestContext,
        id: &str,
        members: bool,
    ) -> Result<Option<Group>, StoreError>;

    /// Applies `change` to the group `id` atomically, setting `meta.lastModified` to
    /// `now`; with `expected_version`, only if the stored version still equals it
    /// ([`StoreError::VersionMismatch`]). Returns the group after the change, with its
    /// members when `members`.
    async fn update(
        &self,
        ctx: &RequestContext,
        id: &str,
        change: &GroupChange,
        now: chrono::DateTime<chrono::Utc>,
        expected_version: Option<&str>,
        members: bool,
    ) -> Result<Group, StoreError>;

    /// Deletes the group and its memberships; with `expected_version`, only if it still
    /// matches.
    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError>;

    /// One page of the groups matching `query.filter`, with the total count of matches.
    async fn list(
        &self,
        ctx: &RequestContext,
        query: &GroupQuery,
    ) -> Result<ListPage<Group>, StoreError>;

    /// Removes the user `user_id` from every group of the tenant (the server calls it
    /// after deleting the user). A store whose memberships cascade with the user (a
    /// foreign key) has nothing left to do.
    async fn remove_user(&self, ctx: &RequestContext, user_id: &str) -> Result<(), StoreError>;

    /// The groups each of `user_ids` belongs to, for `User.groups`: pairs of a user id and
    /// one of its groups (`value` the group's id, `display` its `displayName`), in any
    /// order. The default asks [`GroupStore::list`] once per user; a store with a
    /// membership index answers all of them at once.
    async fn groups_of(
        &self,
        ctx: &RequestContext,
        user_ids: &[&str],
    ) -> Result<Vec<(CompactString, GroupMembership)>, StoreError> {
        let mut found = Vec::new();
        for user in user_ids {
            let query = GroupQuery::all(usize::MAX)
                .filter(GroupFilter::Member((*user).to_owned()))
                .members(false);
            for group in self.list(ctx, &query).await?.resources {
                found.push(((*user).into(), membership(&group)));
            }
        }
        Ok(found)
    }
}

/// `group` as an entry of a member's `groups` (a direct membership).
fn membership(group: &Group) -> GroupMembership {
    direct_membership(
        group.id.clone().unwrap_or_default(),
        group.display_name.clone(),
    )
}

/// The entry of a member's `groups` for the group `id` named `display_name`: a direct
/// membership (the server fills in `$ref`). What every store's `groups_of` returns.
pub(crate) fn direct_membership(id: CompactString, display_name: CompactString) -> GroupMembership {
    GroupMembership {
        value: Some(id),
        reference: None,
        display: Some(display_name),
        kind: Some("direct".into()),
    }
}
