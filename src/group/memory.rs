//! [`MemoryGroupStore`]: the reference implementation of [`GroupStore`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::store::direct_membership;
use super::{Group, GroupChange, GroupMember, GroupQuery, GroupStore, MemberEdit};
use crate::context::RequestContext;
use crate::error::StoreError;
use crate::events::{MemberChanges, MemoryOutbox, group_events_for};
use crate::list::ListPage;
use crate::resource::{CompactString, GroupMembership, Meta};
use crate::store::{UserStore, fold_user_name};

/// An in-memory [`GroupStore`] over a [`UserStore`] (whose users are the members), for
/// tests and demos.
///
/// Each tenant's groups are kept in creation order, indexed by id and by folded
/// `displayName`; memberships are a set per group plus the reverse index (user → groups),
/// so an edit costs its own size and [`GroupStore::remove_user`] the user's groups.
pub struct MemoryGroupStore {
    users: Arc<dyn UserStore>,
    tenants: RwLock<HashMap<Arc<str>, Tenant>>,
    /// The outbox of the user store, when it has one ([`MemoryUserStore::group_store`]):
    /// locked while the tenants' write lock is held, so a write's events are recorded
    /// with it, in commit order.
    ///
    /// [`MemoryUserStore::group_store`]: crate::MemoryUserStore::group_store
    outbox: Option<Arc<MemoryOutbox>>,
    /// The users as a [`MemoryUserStore`](crate::MemoryUserStore), when they are one: added
    /// members are then checked again under the write lock, so a user deleted since the
    /// check before it is not added (nor reported as joined).
    memory: Option<Arc<crate::MemoryUserStore>>,
}

impl std::fmt::Debug for MemoryGroupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryGroupStore").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Tenant {
    next_seq: u64,
    next_version: u64,
    groups: BTreeMap<u64, Row>,
    by_id: HashMap<CompactString, u64>,
    by_name: HashMap<String, u64>,
    by_member: HashMap<CompactString, BTreeSet<u64>>,
}

#[derive(Debug, Clone)]
struct Row {
    id: CompactString,
    external_id: Option<CompactString>,
    display_name: CompactString,
    members: BTreeSet<CompactString>,
    meta: Meta,
}

impl MemoryGroupStore {
    /// A store whose members are the users of `users`, recording no events (to record
    /// them in the outbox of a [`MemoryUserStore`](crate::MemoryUserStore), get the
    /// group store from [`MemoryUserStore::group_store`](crate::MemoryUserStore::group_store)).
    pub fn new(users: Arc<dyn UserStore>) -> Self {
        Self {
            users,
            tenants: RwLock::default(),
            outbox: None,
            memory: None,
        }
    }

    /// Whether user `id` of `tenant` may be added now: checked again under the write lock
    /// when the users are a memory store (the check before the lock stands otherwise).
    fn still_a_user(&self, tenant: &str, id: &str) -> bool {
        self.memory.as_ref().is_none_or(|m| m.contains(tenant, id))
    }

    /// Records the events of a write of group `id` named `name`, from its `displayName`
    /// and `externalId` before and after and the change of its members. Called with the
    /// tenants' write lock held.
    fn record(
        &self,
        ctx: &RequestContext,
        (id, name): (&str, &str),
        before: Option<(&str, Option<&str>)>,
        after: Option<(&str, Option<&str>)>,
        members: MemberChanges,
    ) {
        if let Some(outbox) = &self.outbox {
            let kinds = group_events_for(before, after, members);
            outbox.record(ctx, kinds, id, name);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Tenant>> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Arc<str>, Tenant>> {
        self.tenants.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The ids among `ids` that name users of the tenant (in the order given, once each).
    async fn existing(
        &self,
        ctx: &RequestContext,
        ids: &[CompactString],
    ) -> Result<Vec<CompactString>, StoreError> {
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        for id in ids {
            if seen.insert(id.clone()) && self.users.get(ctx, id).await?.is_some() {
                found.push(id.clone());
            }
        }
        Ok(found)
    }

    /// The members of a row as responses show them: users that still exist (a user
    /// deleted since it joined is no member).
    async fn members(
        &self,
        ctx: &RequestContext,
        ids: &BTreeSet<CompactString>,
    ) -> Result<Vec<GroupMember>, StoreError> {
        let mut members = Vec::with_capacity(ids.len());
        for id in ids {
            if self.users.get(ctx, id).await?.is_some() {
                members.push(GroupMember {
                    value: Some(id.clone()),
                    kind: Some("User".into()),
                    ..GroupMember::default()
                });
            }
        }
        Ok(members)
    }

    async fn group(
        &self,
        ctx: &RequestContext,
        row: Row,
        members: bool,
    ) -> Result<Group, StoreError> {
        let members = if members {
            self.members(ctx, &row.members).await?
        } else {
            Vec::new()
        };
        Ok(Group {
            id: Some(row.id),
            external_id: row.external_id,
            display_name: row.display_name,
            members,
            meta: Some(row.meta),
        })
    }

    /// The ids of every `Add` edit, checked against the user store before the write lock
    /// is taken (a user deleted in between is removed again by `remove_user`, and reads
    /// never show a member that is not a user).
    async fn resolve(
        &self,
        ctx: &RequestContext,
        change: &GroupChange,
    ) -> Result<Vec<MemberEdit>, StoreError> {
        let mut edits = Vec::with_capacity(change.members.len());
        for edit in &change.members {
            edits.push(match edit {
                MemberEdit::Add(ids) => MemberEdit::Add(self.existing(ctx, ids).await?),
                other => other.clone(),
            });
        }
        Ok(edits)
    }
}

impl crate::MemoryUserStore {
    /// A [`MemoryGroupStore`] whose members are this store's users and which records its
    /// events in this store's outbox, if it has one (one sequence of ids for user and
    /// group events).
    pub fn group_store(self: &Arc<Self>) -> MemoryGroupStore {
        MemoryGroupStore {
            outbox: self.outbox(),
            memory: Some(self.clone()),
            ..MemoryGroupStore::new(self.clone())
        }
    }
}

impl Row {
    /// A copy of the row, with its members only when `members` (a copy of a group's
    /// member set costs the size of the group, which a write or a read without members
    /// must not pay).
    fn view(&self, members: bool) -> Self {
        Self {
            id: self.id.clone(),
            external_id: self.external_id.clone(),
            display_name: self.display_name.clone(),
            members: if members {
                self.members.clone()
            } else {
                BTreeSet::new()
            },
            meta: self.meta.clone(),
        }
    }
}

impl Tenant {
    fn new_version(&mut self) -> CompactString {
        self.next_version += 1;
        format!("W/\"{}\"", self.next_version).as_str().into()
    }

    fn row(&self, id: &str) -> Option<(u64, &Row)> {
        let seq = *self.by_id.get(id)?;
        self.groups.get(&seq).map(|r| (seq, r))
    }

    fn name_taken(&self, name: &str, except: Option<u64>) -> bool {
        self.by_name
            .get(&fold_user_name(name))
            .is_some_and(|s| Some(*s) != except)
    }

    /// Adds `user` to group `seq`; whether it joined (was not a member).
    fn add_member(&mut self, seq: u64, user: &CompactString) -> bool {
        let Some(row) = self.groups.get_mut(&seq) else {
            return false;
        };
        let joined = row.members.insert(user.clone());
        if joined {
            self.by_member.entry(user.clone()).or_default().insert(seq);
        }
        joined
    }

    /// Removes `user` from group `seq`; whether it left (was a member).
    fn remove_member(&mut self, seq: u64, user: &str) -> bool {
        let Some(row) = self.groups.get_mut(&seq) else {
            return false;
        };
        let left = row.members.remove(user);
        if left {
            self.unindex(seq, user);
        }
        left
    }

    /// Removes `user`'s entry for group `seq` from the index of members.
    fn unindex(&mut self, seq: u64, user: &str) {
        if let Some(groups) = self.by_member.get_mut(user) {
            groups.remove(&seq);
            if groups.is_empty() {
                self.by_member.remove(user);
            }
        }
    }

    /// Removes every member of group `seq`, returning them.
    fn remove_all(&mut self, seq: u64) -> BTreeSet<CompactString> {
        let members = self
            .groups
            .get_mut(&seq)
            .map(|r| std::mem::take(&mut r.members))
            .unwrap_or_default();
        for user in &members {
            self.unindex(seq, user);
        }
        members
    }

    /// Applies `edits` to group `seq`, in order, noting in `changes` who joined and left;
    /// an id `is_user` refuses is not added.
    fn apply(
        &mut self,
        seq: u64,
        edits: &[MemberEdit],
        changes: &mut MemberChanges,
        is_user: &dyn Fn(&str) -> bool,
    ) {
        for edit in edits {
            match edit {
                MemberEdit::Add(ids) => {
                    for u in ids {
                        if is_user(u) && self.add_member(seq, u) {
                            changes.joined(u);
                        }
                    }
                }
                MemberEdit::Remove(ids) => {
                    for u in ids {
                        if self.remove_member(seq, u) {
                            changes.left(u);
                        }
                    }
                }
                MemberEdit::RemoveAll => {
                    for u in self.remove_all(seq) {
                        changes.left(&u);
                    }
                }
            }
        }
    }
}

fn uniqueness() -> StoreError {
    StoreError::Uniqueness {
        attribute: "displayName".into(),
    }
}

#[async_trait]
impl GroupStore for MemoryGroupStore {
    async fn create(&self, ctx: &RequestContext, group: Group) -> Result<Group, StoreError> {
        let ids: Vec<CompactString> = group
            .members
            .iter()
            .filter_map(|m| m.value.clone())
            .collect();
        let members = self.existing(ctx, &ids).await?;
        let id = group.id.clone().ok_or_else(|| {
            StoreError::Backend("a group reaches the store with its id set".into())
        })?;
        let mut meta = group
            .meta
            .clone()
            .unwrap_or_else(|| Meta::new("Group", Utc::now()));
        let row = {
            let mut tenants = self.write();
            let tenant = tenants.entry(ctx.tenant.clone()).or_default();
            if tenant.name_taken(&group.display_name, None) {
                return Err(uniqueness());
            }
            if tenant.by_id.contains_key(&id) {
                return Err(StoreError::Uniqueness {
                    attribute: "id".into(),
                });
            }
            tenant.next_seq += 1;
            let seq = tenant.next_seq;
            meta.version = Some(tenant.new_version());
            let row = Row {
                id: id.clone(),
                external_id: group.external_id.clone(),
                display_name: group.display_name.clone(),
                members: BTreeSet::new(),
                meta,
            };
            tenant.groups.insert(seq, row);
            tenant.by_id.insert(id, seq);
            tenant
                .by_name
                .insert(fold_user_name(&group.display_name), seq);
            let mut changes = MemberChanges::new();
            let is_user = |u: &str| self.still_a_user(&ctx.tenant, u);
            tenant.apply(seq, &[MemberEdit::Add(members)], &mut changes, &is_user);
            let row = tenant.groups[&seq].clone();
            let external_id = row.external_id.as_deref();
            let after = Some((row.display_name.as_str(), external_id));
            self.record(ctx, (&row.id, &row.display_name), None, after, changes);
            row
        };
        self.group(ctx, row, true).await
    }

    async fn get(
        &self,
        ctx: &RequestContext,
        id: &str,
        members: bool,
    ) -> Result<Option<Group>, StoreError> {
        let row = {
            let tenants = self.read();
            tenants
                .get(&ctx.tenant)
                .and_then(|t| t.row(id))
                .map(|(_, r)| r.view(members))
        };
        match row {
            Some(row) => Ok(Some(self.group(ctx, row, members).await?)),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        id: &str,
        change: &GroupChange,
        now: DateTime<Utc>,
        expected_version: Option<&str>,
        members: bool,
    ) -> Result<Group, StoreError> {
        let edits = self.resolve(ctx, change).await?;
        let row = {
            let mut tenants = self.write();
            let tenant = tenants.get_mut(&ctx.tenant).ok_or(StoreError::NotFound)?;
            let (seq, current) = tenant.row(id).ok_or(StoreError::NotFound)?;
            if let Some(expected) = expected_version {
                if current.meta.version.as_deref() != Some(expected) {
                    return Err(StoreError::VersionMismatch);
                }
            }
            let old_name = current.display_name.clone();
            let old_external_id = current.external_id.clone();
            if let Some(name) = &change.display_name {
                if tenant.name_taken(name, Some(seq)) {
                    return Err(uniqueness());
                }
            }
            let version = tenant.new_version();
            let row = tenant.groups.get_mut(&seq).ok_or(StoreError::NotFound)?;
            if let Some(name) = &change.display_name {
                row.display_name = name.clone();
            }
            if let Some(external_id) = &change.external_id {
                row.external_id = external_id.clone();
            }
            row.meta.last_modified = now;
            row.meta.version = Some(version);
            let new_name = row.display_name.clone();
            if fold_user_name(&old_name) != fold_user_name(&new_name) {
                tenant.by_name.remove(&fold_user_name(&old_name));
                tenant.by_name.insert(fold_user_name(&new_name), seq);
            }
            let mut changes = MemberChanges::new();
            let is_user = |u: &str| self.still_a_user(&ctx.tenant, u);
            tenant.apply(seq, &edits, &mut changes, &is_user);
            let row = &tenant.groups[&seq];
            self.record(
                ctx,
                (&row.id, &row.display_name),
                Some((&old_name, old_external_id.as_deref())),
                Some((&row.display_name, row.external_id.as_deref())),
                changes,
            );
            row.view(members)
        };
        self.group(ctx, row, members).await
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tenants = self.write();
        let tenant = tenants.get_mut(&ctx.tenant).ok_or(StoreError::NotFound)?;
        let (seq, row) = tenant.row(id).ok_or(StoreError::NotFound)?;
        if let Some(expected) = expected_version {
            if row.meta.version.as_deref() != Some(expected) {
                return Err(StoreError::VersionMismatch);
            }
        }
        let name = fold_user_name(&row.display_name);
        let before = (row.display_name.to_string(), row.external_id.clone());
        tenant.remove_all(seq);
        self.record(
            ctx,
            (id, &before.0),
            Some((&before.0, before.1.as_deref())),
            None,
            MemberChanges::new(),
        );
        tenant.groups.remove(&seq);
        tenant.by_id.remove(id);
        tenant.by_name.remove(&name);
        Ok(())
    }

    async fn list(
        &self,
        ctx: &RequestContext,
        query: &GroupQuery,
    ) -> Result<ListPage<Group>, StoreError> {
        let (total, rows) = {
            let tenants = self.read();
            let Some(tenant) = tenants.get(&ctx.tenant) else {
                return Ok(ListPage::new(0, Vec::new()));
            };
            let matching = tenant.groups.values().filter(|row| {
                query.filter.as_ref().is_none_or(|f| {
                    f.matches(
                        &row.id,
                        &row.display_name,
                        row.external_id.as_deref(),
                        &|user| row.members.contains(user),
                    )
                })
            });
            let mut total = 0;
            let mut rows = Vec::new();
            let skip = query.start_index.max(1) - 1;
            for row in matching {
                if total >= skip && rows.len() < query.count {
                    rows.push(row.view(query.members));
                }
                total += 1;
            }
            (total, rows)
        };
        let mut groups = Vec::with_capacity(rows.len());
        for row in rows {
            groups.push(self.group(ctx, row, query.members).await?);
        }
        Ok(ListPage::new(total, groups))
    }

    async fn groups_of(
        &self,
        ctx: &RequestContext,
        user_ids: &[&str],
    ) -> Result<Vec<(CompactString, GroupMembership)>, StoreError> {
        let tenants = self.read();
        let Some(tenant) = tenants.get(&ctx.tenant) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for user in user_ids {
            for seq in tenant.by_member.get(*user).into_iter().flatten() {
                if let Some(row) = tenant.groups.get(seq) {
                    let membership = direct_membership(row.id.clone(), row.display_name.clone());
                    found.push(((*user).into(), membership));
                }
            }
        }
        Ok(found)
    }

    async fn remove_user(&self, ctx: &RequestContext, user_id: &str) -> Result<(), StoreError> {
        let mut tenants = self.write();
        if let Some(tenant) = tenants.get_mut(&ctx.tenant) {
            let groups = tenant.by_member.get(user_id).cloned().unwrap_or_default();
            for seq in groups {
                tenant.remove_member(seq, user_id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::events::{EventKind, EventOutbox};
    use crate::list::ListQuery;
    use crate::resource::User;
    use crate::testing::{block_on, groups::new_group, new_user};

    /// Users whose `get` answers and then deletes the user: the user is gone between the
    /// group store's check of the ids it adds and its write.
    struct GoneAfterGet(Arc<crate::MemoryUserStore>);

    #[async_trait]
    impl UserStore for GoneAfterGet {
        async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
            self.0.create(ctx, user).await
        }
        async fn get(
            &self,
            ctx: &RequestContext,
            id: &str,
        ) -> Result<Option<Arc<User>>, StoreError> {
            let found = self.0.get(ctx, id).await?;
            if found.is_some() {
                self.0.delete(ctx, id, None).await?;
            }
            Ok(found)
        }
        async fn replace(
            &self,
            ctx: &RequestContext,
            user: User,
            expected: Option<&str>,
        ) -> Result<Arc<User>, StoreError> {
            self.0.replace(ctx, user, expected).await
        }
        async fn delete(
            &self,
            ctx: &RequestContext,
            id: &str,
            expected: Option<&str>,
        ) -> Result<(), StoreError> {
            self.0.delete(ctx, id, expected).await
        }
        async fn list(
            &self,
            ctx: &RequestContext,
            query: &ListQuery,
        ) -> Result<ListPage<Arc<User>>, StoreError> {
            self.0.list(ctx, query).await
        }
    }

    #[test]
    fn a_user_deleted_after_the_check_is_not_added_nor_reported_joined() {
        block_on(async {
            let users = Arc::new(crate::MemoryUserStore::new().with_outbox());
            let c = RequestContext::system("t");
            let u = users.create(&c, new_user("brief")).await.unwrap();
            let id = u.id.clone().unwrap();
            let groups = MemoryGroupStore {
                users: Arc::new(GoneAfterGet(users.clone())),
                ..users.group_store()
            };
            let g = groups.create(&c, new_group("G", &[])).await.unwrap();
            let change = GroupChange::edit(vec![MemberEdit::Add(vec![id.clone()])]);
            let after = groups
                .update(
                    &c,
                    g.id.as_deref().unwrap(),
                    &change,
                    Utc::now(),
                    None,
                    true,
                )
                .await
                .unwrap();
            assert!(after.members.is_empty());
            let kinds: Vec<EventKind> = users
                .pending_events(10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.kind)
                .collect();
            assert_eq!(
                kinds,
                [
                    EventKind::UserCreated,
                    EventKind::GroupCreated,
                    EventKind::UserDeleted
                ],
                "no groupMembersChanged for a user gone before the write"
            );
        });
    }
}
