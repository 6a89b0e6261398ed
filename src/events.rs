//! Provisioning events: what a host product reacts to when users flow in (enrol them in
//! training, send a welcome, write an audit trail).
//!
//! Events follow the *outbox* pattern. A store that keeps an outbox records the events of
//! a write in the same critical section (or database transaction) as the write itself,
//! so an event exists exactly when its change was committed: none is lost for a committed
//! change, none is emitted for a failed one. An [`EventDispatcher`], run by the host on
//! its own schedule, hands pending events to an [`EventSink`] in order and acknowledges
//! them once delivered. A slow or failing sink therefore never fails or delays a SCIM
//! request: it only makes the outbox grow until the sink recovers, when delivery resumes
//! where it stopped, in the same order. Delivery is at least once: a sink that fails
//! after acting on an event sees it again, so sinks should be idempotent (use
//! [`ProvisioningEvent::id`]).
//!
//! Stores derive events from the state before and after each write with [`events_for`]
//! (users) and [`group_events_for`] (groups, with the members who joined and left), so
//! every store emits the same events for the same change. Group events go to the outbox
//! of the user store whose users are the members (its group store shares it), so user
//! and group events come in one order.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use std::sync::Arc;
//! use scimkit::events::{EventDispatcher, EventKind, EventSink, ProvisioningEvent};
//!
//! /// Enrols every new user in onboarding training; idempotent by event id.
//! struct EnrolNewUsers;
//!
//! #[async_trait::async_trait]
//! impl EventSink for EnrolNewUsers {
//!     async fn deliver(&self, event: &ProvisioningEvent)
//!         -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!         if event.kind == EventKind::UserCreated {
//!             // e.g. training.enrol(&event.tenant, &event.resource_id, "onboarding", event.id)?
//!             println!("enrolling {} of {} (event {})", event.resource_name, event.tenant, event.id);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let store = Arc::new(scimkit::MemoryUserStore::new().with_outbox());
//! let dispatcher = EventDispatcher::new(store.clone(), Arc::new(EnrolNewUsers));
//! // In the host, on a timer (e.g. every second, in one process): deliver what is pending.
//! let delivered = dispatcher.run_once().await?;
//! # let _ = delivered;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::RequestContext;
use crate::error::StoreError;
use crate::resource::User;
use crate::resource::fields::{Attributes, Member};
use crate::resource::write_json_member as write_member;

/// What happened to a user or a group ([`EventKind::resource_type`] says which).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum EventKind {
    /// The user was created.
    UserCreated,
    /// Attributes changed; the paths that changed (`name.givenName`, `emails`,
    /// `urn:...:enterprise:2.0:User:department`), sorted.
    UserUpdated {
        /// The attribute paths whose values changed.
        changed: Vec<String>,
    },
    /// `active` went from true (or unset) to false.
    UserDeactivated,
    /// `active` went from false to true (or unset).
    UserReactivated,
    /// The user was deleted. Its memberships went with it: no
    /// [`EventKind::GroupMembersChanged`] is recorded for them.
    UserDeleted,
    /// The group was created. The members it was created with follow in a
    /// [`EventKind::GroupMembersChanged`] of the same write.
    GroupCreated,
    /// The group's own attributes changed: `displayName` (a rename) and/or `externalId`,
    /// sorted.
    GroupUpdated {
        /// The attribute paths whose values changed.
        changed: Vec<String>,
    },
    /// Members joined or left the group: the net change of one write (a member removed
    /// and added again in one PATCH is in neither list), user ids sorted. A write whose
    /// edits change no membership (adding a member already there, removing one who is
    /// not, an id naming no user) records none.
    GroupMembersChanged {
        /// The ids of the users who joined.
        joined: Vec<String>,
        /// The ids of the users who left.
        left: Vec<String>,
    },
    /// The group was deleted, and with it every membership (the members are not listed).
    GroupDeleted,
}

impl EventKind {
    /// The type of the resource the event is about: `"User"` or `"Group"`.
    pub fn resource_type(&self) -> &'static str {
        match self {
            Self::UserCreated
            | Self::UserUpdated { .. }
            | Self::UserDeactivated
            | Self::UserReactivated
            | Self::UserDeleted => "User",
            Self::GroupCreated
            | Self::GroupUpdated { .. }
            | Self::GroupMembersChanged { .. }
            | Self::GroupDeleted => "Group",
        }
    }
}

/// One committed change, as recorded in a store's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningEvent {
    /// The outbox sequence number: increasing in commit order, unique per store.
    pub id: u64,
    /// What happened.
    pub kind: EventKind,
    /// The tenant.
    pub tenant: String,
    /// The API key that made the change (`system` for host-initiated work).
    pub key_id: String,
    /// The request that made the change.
    pub request_id: String,
    /// The id of the user or group ([`EventKind::resource_type`]).
    pub resource_id: String,
    /// The user's `userName`, or the group's `displayName` (after the change).
    pub resource_name: String,
    /// When the change was committed.
    pub time: DateTime<Utc>,
}

/// The events a write produces, from the user before (`None` for a create) and after
/// (`None` for a delete). A write that changes nothing produces none.
pub fn events_for(before: Option<&User>, after: Option<&User>) -> Vec<EventKind> {
    match (before, after) {
        (None, Some(_)) => vec![EventKind::UserCreated],
        (Some(_), None) => vec![EventKind::UserDeleted],
        (None, None) => Vec::new(),
        (Some(old), Some(new)) => {
            let mut out = Vec::new();
            let changed = changed_paths(old, new);
            if !changed.is_empty() {
                out.push(EventKind::UserUpdated { changed });
            }
            let was_active = old.active != Some(false);
            let is_active = new.active != Some(false);
            match (was_active, is_active) {
                (true, false) => out.push(EventKind::UserDeactivated),
                (false, true) => out.push(EventKind::UserReactivated),
                _ => {}
            }
            out
        }
    }
}

/// The attribute paths that differ between two users (`meta` excluded; `password`
/// included by name only, never by value): the members whose JSON forms
/// ([`User::to_value`]) differ, a singular complex attribute or extension object by its
/// sub-attributes (`name.givenName`, `urn:...:User:manager.value`), a multi-valued one
/// whole (`emails`). Sorted.
///
/// Read from the typed user through its attribute table, as the response writer reads
/// it: no JSON is built, and a multi-valued attribute is compared by its written bytes.
pub fn changed_paths(old: &User, new: &User) -> Vec<String> {
    let mut out = Vec::new();
    let mut scratch = (Vec::new(), Vec::new());
    diff_members(old, new, "", "", &mut scratch, &mut out);
    // Extension objects kept as JSON (the typed Enterprise one is a member above), by
    // their attributes.
    let a: std::collections::BTreeMap<_, _> = old.extensions_shown(None).collect();
    let b: std::collections::BTreeMap<_, _> = new.extensions_shown(None).collect();
    for urn in a.keys().chain(b.keys()) {
        match (a.get(urn), b.get(urn)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => diff_maps(x, y, urn, urn.starts_with("urn:"), &mut out),
            _ => out.push((*urn).to_owned()),
        }
    }
    if old.password.as_ref().map(|p| p.expose()) != new.password.as_ref().map(|p| p.expose()) {
        out.push("password".into());
    }
    out.sort();
    out.dedup();
    out
}

/// The members of `a` and `b` (of one attribute table) whose JSON forms differ, as paths
/// `prefix` `sep` `name`; singular complex members and the Enterprise extension object
/// by their own members. At the top (`prefix` empty), `id`, `schemas` and `meta` are left
/// out.
fn diff_members<T: Attributes>(
    a: &T,
    b: &T,
    prefix: &str,
    sep: &str,
    scratch: &mut (Vec<u8>, Vec<u8>),
    out: &mut Vec<String>,
) {
    for (name, get) in T::MEMBERS {
        if prefix.is_empty() && matches!(*name, "id" | "schemas" | "meta") {
            continue;
        }
        let path = || format!("{prefix}{sep}{name}");
        match (get(a), get(b)) {
            (None, None) => {}
            (Some(Member::Name(x)), Some(Member::Name(y))) => {
                diff_members(x, y, &path(), ".", scratch, out);
            }
            (Some(Member::Manager(x)), Some(Member::Manager(y))) => {
                diff_members(x, y, &path(), ".", scratch, out);
            }
            (Some(Member::Enterprise(x)), Some(Member::Enterprise(y))) => {
                diff_members(x, y, &path(), ":", scratch, out);
            }
            (Some(Member::Str(x)), Some(Member::Str(y))) if x == y => {}
            (Some(Member::Bool(x)), Some(Member::Bool(y))) if x == y => {}
            (Some(x), Some(y)) => {
                let (bx, by) = (&mut scratch.0, &mut scratch.1);
                bx.clear();
                by.clear();
                write_member(x, bx);
                write_member(y, by);
                if bx != by {
                    out.push(path());
                }
            }
            _ => out.push(path()),
        }
    }
}

/// `in_extension` says `prefix` is an extension URN: its attributes join it with `:`
/// (`urn:...:User:manager`); sub-attributes join with `.` (`urn:...:User:manager.value`).
fn diff_maps(
    ma: &serde_json::Map<String, Value>,
    mb: &serde_json::Map<String, Value>,
    prefix: &str,
    in_extension: bool,
    out: &mut Vec<String>,
) {
    for key in ma.keys().chain(mb.keys()) {
        let (va, vb) = (ma.get(key), mb.get(key));
        if va == vb {
            continue;
        }
        let sep = if in_extension { ":" } else { "." };
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}{sep}{key}")
        };
        match (va, vb) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                diff_maps(
                    x,
                    y,
                    &path,
                    prefix.is_empty() && key.starts_with("urn:"),
                    out,
                );
            }
            _ => out.push(path),
        }
    }
}

/// Builds the outbox records of one write of `user`. For stores.
pub fn record(
    ctx: &RequestContext,
    kinds: Vec<EventKind>,
    user: &User,
    next_id: impl FnMut() -> u64,
) -> Vec<ProvisioningEvent> {
    record_of(
        ctx,
        kinds,
        user.id.as_deref().unwrap_or_default(),
        &user.user_name,
        next_id,
    )
}

/// Builds the outbox records of one write of the resource `resource_id` named
/// `resource_name` (a user's `userName`, a group's `displayName`). For stores.
pub fn record_of(
    ctx: &RequestContext,
    kinds: Vec<EventKind>,
    resource_id: &str,
    resource_name: &str,
    mut next_id: impl FnMut() -> u64,
) -> Vec<ProvisioningEvent> {
    let time = Utc::now();
    kinds
        .into_iter()
        .map(|kind| ProvisioningEvent {
            id: next_id(),
            kind,
            tenant: ctx.tenant.to_string(),
            key_id: ctx.key_id.to_string(),
            request_id: ctx.request_id.clone(),
            resource_id: resource_id.to_owned(),
            resource_name: resource_name.to_owned(),
            time,
        })
        .collect()
}

/// The events of a group write, from the group's `displayName` and `externalId` before
/// (`None` for a create) and after (`None` for a delete), and the net change of its
/// members ([`MemberChanges`]). A write that changes nothing produces none.
pub fn group_events_for(
    before: Option<(&str, Option<&str>)>,
    after: Option<(&str, Option<&str>)>,
    members: MemberChanges,
) -> Vec<EventKind> {
    let mut out = Vec::new();
    match (before, after) {
        (None, Some(_)) => out.push(EventKind::GroupCreated),
        (Some(_), None) => return vec![EventKind::GroupDeleted],
        (Some((old_name, old_ext)), Some((new_name, new_ext))) => {
            let mut changed = Vec::new();
            if old_name != new_name {
                changed.push("displayName".to_owned());
            }
            if old_ext != new_ext {
                changed.push("externalId".to_owned());
            }
            if !changed.is_empty() {
                out.push(EventKind::GroupUpdated { changed });
            }
        }
        (None, None) => return out,
    }
    if !members.is_empty() {
        let (joined, left) = members.into_lists();
        out.push(EventKind::GroupMembersChanged { joined, left });
    }
    out
}

/// The net change of a group's members over the edits of one write, from what each edit
/// actually changed, in order: a user who left and joined again (or joined and left) in
/// one write is in neither list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChanges {
    joined: std::collections::BTreeSet<String>,
    left: std::collections::BTreeSet<String>,
}

impl MemberChanges {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// `user` became a member (it was not one just before).
    pub fn joined(&mut self, user: &str) {
        if !self.left.remove(user) {
            self.joined.insert(user.to_owned());
        }
    }

    /// `user` stopped being a member (it was one just before).
    pub fn left(&mut self, user: &str) {
        if !self.joined.remove(user) {
            self.left.insert(user.to_owned());
        }
    }

    /// Whether the write changed no membership.
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty()
    }

    /// The users who joined and those who left, each sorted.
    pub fn into_lists(self) -> (Vec<String>, Vec<String>) {
        (
            self.joined.into_iter().collect(),
            self.left.into_iter().collect(),
        )
    }
}

/// A store's event outbox: the events recorded with its writes and not yet acknowledged,
/// read by an [`EventDispatcher`].
///
/// A trait apart from [`UserStore`](crate::UserStore): the outbox is one per store and
/// holds the events of every tenant (each event names its tenant), so it is read by the
/// host's dispatcher, not within a request's [`RequestContext`]. A store records a
/// write's events (computed with [`events_for`], built with [`record`]) atomically with
/// the write.
#[async_trait]
pub trait EventOutbox: Send + Sync {
    /// Up to `limit` events recorded with writes and not yet acknowledged, oldest first.
    async fn pending_events(&self, limit: usize) -> Result<Vec<ProvisioningEvent>, StoreError>;

    /// Removes the events up to and including id `through` from the outbox.
    async fn acknowledge_events(&self, through: u64) -> Result<(), StoreError>;
}

/// The outbox of the in-memory stores: a [`MemoryUserStore`](crate::MemoryUserStore)'s,
/// shared with its [`MemoryGroupStore`](crate::MemoryGroupStore) so user and group events
/// get ids from one sequence. Each store records while holding its own write lock, so a
/// write's events are recorded atomically with it and in commit order.
#[derive(Debug, Default)]
pub(crate) struct MemoryOutbox {
    inner: std::sync::Mutex<MemoryOutboxState>,
}

#[derive(Debug, Default)]
struct MemoryOutboxState {
    events: std::collections::VecDeque<ProvisioningEvent>,
    next_id: u64,
}

impl MemoryOutbox {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoryOutboxState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `kinds` for the resource `id` named `name`.
    pub(crate) fn record(&self, ctx: &RequestContext, kinds: Vec<EventKind>, id: &str, name: &str) {
        if kinds.is_empty() {
            return;
        }
        let mut state = self.state();
        let mut next = state.next_id;
        let recorded = record_of(ctx, kinds, id, name, || {
            next += 1;
            next
        });
        state.next_id = next;
        state.events.extend(recorded);
    }

    /// The oldest `limit` events.
    pub(crate) fn pending(&self, limit: usize) -> Vec<ProvisioningEvent> {
        self.state().events.iter().take(limit).cloned().collect()
    }

    /// Removes the events up to id `through`.
    pub(crate) fn acknowledge(&self, through: u64) {
        let mut state = self.state();
        while state.events.front().is_some_and(|e| e.id <= through) {
            state.events.pop_front();
        }
    }
}

/// Receives provisioning events. Called by an [`EventDispatcher`], never on the path of
/// a SCIM request.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Handles one event. An error stops this round of delivery; the event (and every
    /// later one) is delivered again in the next round.
    async fn deliver(
        &self,
        event: &ProvisioningEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// Delivers a store's pending events to a sink, in order.
pub struct EventDispatcher {
    store: Arc<dyn EventOutbox>,
    sink: Arc<dyn EventSink>,
    batch: usize,
}

debug_fields!(EventDispatcher { batch });

/// Why a round of delivery stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The store could not read or acknowledge the outbox.
    #[error("outbox: {0}")]
    Store(#[from] StoreError),
    /// The sink refused an event; it will be delivered again.
    #[error("sink refused event {id}: {cause}")]
    Sink {
        /// The event that was refused.
        id: u64,
        /// The sink's error.
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl EventDispatcher {
    /// A dispatcher from `store`'s outbox to `sink`, 100 events per batch.
    pub fn new(store: Arc<dyn EventOutbox>, sink: Arc<dyn EventSink>) -> Self {
        Self {
            store,
            sink,
            batch: 100,
        }
    }

    /// Delivers every pending event, in order, acknowledging each batch once it is
    /// delivered. Returns how many were delivered. Stops at the first sink error (the
    /// refused event stays pending) and reports it.
    pub async fn run_once(&self) -> Result<usize, DispatchError> {
        let mut delivered = 0;
        loop {
            let events = self.store.pending_events(self.batch).await?;
            if events.is_empty() {
                return Ok(delivered);
            }
            let mut last_delivered = None;
            for event in &events {
                if let Err(cause) = self.sink.deliver(event).await {
                    if let Some(id) = last_delivered {
                        self.store.acknowledge_events(id).await?;
                    }
                    return Err(DispatchError::Sink {
                        id: event.id,
                        cause,
                    });
                }
                last_delivered = Some(event.id);
                delivered += 1;
            }
            if let Some(id) = last_delivered {
                self.store.acknowledge_events(id).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::Compatibility;
    use crate::resource::input::user_from_value;
    use serde_json::json;

    fn user(v: Value) -> User {
        user_from_value(
            v,
            &Compatibility::default(),
            crate::schema::SchemaSet::core(),
        )
        .unwrap()
    }

    #[test]
    fn events_for_each_kind_of_write() {
        let a = user(json!({"userName": "a", "active": true, "name": {"givenName": "A"}}));
        assert_eq!(events_for(None, Some(&a)), vec![EventKind::UserCreated]);
        assert_eq!(events_for(Some(&a), None), vec![EventKind::UserDeleted]);
        assert!(events_for(Some(&a), Some(&a)).is_empty());
        let mut b = a.clone();
        b.active = Some(false);
        assert_eq!(
            events_for(Some(&a), Some(&b)),
            vec![
                EventKind::UserUpdated {
                    changed: vec!["active".into()]
                },
                EventKind::UserDeactivated
            ]
        );
        assert_eq!(
            events_for(Some(&b), Some(&a))[1],
            EventKind::UserReactivated
        );
    }

    #[test]
    fn group_events_for_each_kind_of_write() {
        let none = MemberChanges::new;
        assert_eq!(
            group_events_for(None, Some(("G", None)), none()),
            [EventKind::GroupCreated]
        );
        let mut first = none();
        first.joined("u2");
        first.joined("u1");
        assert_eq!(
            group_events_for(None, Some(("G", None)), first),
            [
                EventKind::GroupCreated,
                EventKind::GroupMembersChanged {
                    joined: vec!["u1".into(), "u2".into()],
                    left: vec![]
                }
            ]
        );
        assert_eq!(
            group_events_for(Some(("G", None)), None, none()),
            [EventKind::GroupDeleted]
        );
        assert!(
            group_events_for(Some(("G", Some("x"))), Some(("G", Some("x"))), none()).is_empty()
        );
        assert_eq!(
            group_events_for(Some(("G", Some("x"))), Some(("g", None)), none()),
            [EventKind::GroupUpdated {
                changed: vec!["displayName".into(), "externalId".into()]
            }]
        );
        assert_eq!(EventKind::GroupDeleted.resource_type(), "Group");
        assert_eq!(EventKind::UserDeleted.resource_type(), "User");
    }

    #[test]
    fn member_changes_are_net_of_one_write() {
        let mut m = MemberChanges::new();
        // replace members [a, c] on a group of {a, b}: every row removed, then a and c added.
        m.left("a");
        m.left("b");
        m.joined("a");
        m.joined("c");
        // joined and left again in the same write: no change for d.
        m.joined("d");
        m.left("d");
        assert_eq!(m.into_lists(), (vec!["c".into()], vec!["b".into()]));
        let mut none = MemberChanges::new();
        none.joined("x");
        none.left("x");
        assert!(none.is_empty());
    }

    #[test]
    fn kinds_read_back_from_their_json() {
        for kind in [
            EventKind::UserCreated,
            EventKind::UserUpdated {
                changed: vec!["emails".into()],
            },
            EventKind::GroupMembersChanged {
                joined: vec!["a".into()],
                left: vec!["b".into()],
            },
            EventKind::GroupDeleted,
        ] {
            let text = serde_json::to_string(&kind).unwrap();
            assert_eq!(
                serde_json::from_str::<EventKind>(&text).unwrap(),
                kind,
                "{text}"
            );
        }
        assert_eq!(
            serde_json::to_value(EventKind::GroupMembersChanged {
                joined: vec!["a".into()],
                left: vec![]
            })
            .unwrap(),
            json!({"type": "groupMembersChanged", "joined": ["a"], "left": []})
        );
    }

    /// What `changed_paths` answered when it compared the users' JSON forms
    /// (`User::to_value`): the oracle of the typed comparison.
    fn changed_paths_by_json(old: &User, new: &User) -> Vec<String> {
        let (a, b) = (old.to_value(), new.to_value());
        let mut out = Vec::new();
        let mut a = a.as_object().cloned().unwrap_or_default();
        let mut b = b.as_object().cloned().unwrap_or_default();
        for key in ["meta", "schemas", "id"] {
            a.remove(key);
            b.remove(key);
        }
        diff_maps(&a, &b, "", false, &mut out);
        if old.password.as_ref().map(|p| p.expose()) != new.password.as_ref().map(|p| p.expose()) {
            out.push("password".into());
        }
        out.sort();
        out.dedup();
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1024)
        ))]

        /// The typed comparison names exactly the paths the JSON forms differ in, for
        /// unrelated users and for users that differ in a few members.
        #[test]
        fn changed_paths_are_the_paths_the_json_forms_differ_in(
            a in crate::testing::arbitrary::user(),
            b in crate::testing::arbitrary::user(),
            mix in proptest::prelude::any::<u16>(),
        ) {
            proptest::prop_assert_eq!(changed_paths(&a, &b), changed_paths_by_json(&a, &b));
            proptest::prop_assert!(changed_paths(&a, &a).is_empty());
            // `a` with some members taken from `b`.
            let mut c = a.clone();
            let take = |bit: u16| mix & (1 << bit) != 0;
            if take(0) { c.name = b.name.clone(); }
            if take(1) { c.display_name = b.display_name.clone(); }
            if take(2) { c.emails = b.emails.clone(); }
            if take(3) { c.enterprise = b.enterprise.clone(); }
            if take(4) { c.extensions = b.extensions.clone(); }
            if take(5) { c.active = b.active; }
            if take(6) { c.addresses = b.addresses.clone(); }
            if take(7) { c.password = b.password.clone(); }
            if take(8) { c.user_name = b.user_name.clone(); }
            if take(9) { c.groups = b.groups.clone(); }
            if take(10) { c.meta = b.meta.clone(); c.id = b.id.clone(); }
            proptest::prop_assert_eq!(changed_paths(&a, &c), changed_paths_by_json(&a, &c));
            // Extension objects kept as JSON (arbitrary users have none): present in
            // either, both or neither, with attributes and sub-attributes that differ.
            let custom = |n: u16| {
                let doc = serde_json::json!({
                    "title": format!("t{}", n % 3),
                    "badge": {"value": format!("v{}", n % 2), "kind": "k"},
                    "tags": [n % 2],
                });
                doc.as_object().cloned().unwrap_or_default()
            };
            let (mut d, mut e) = (a.clone(), a.clone());
            if take(11) { d.extensions.insert("urn:example:custom:User".into(), custom(mix)); }
            if take(12) { e.extensions.insert("urn:example:custom:User".into(), custom(mix >> 13)); }
            if take(13) { e.extensions.insert("urn:example:other:User".into(), custom(mix >> 14)); }
            proptest::prop_assert_eq!(changed_paths(&d, &e), changed_paths_by_json(&d, &e));
        }
    }

    #[test]
    fn changed_paths_name_sub_attributes_and_extension_attributes() {
        let a = user(
            json!({"userName": "a", "name": {"givenName": "A", "familyName": "F"},
            "emails": [{"value": "a@x"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "manager": {"value": "m1"}}}),
        );
        let b = user(
            json!({"userName": "a", "name": {"givenName": "B", "familyName": "F"},
            "emails": [{"value": "b@x"}], "title": "T", "password": "p",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Eng", "manager": {"value": "m2"}}}),
        );
        assert_eq!(
            changed_paths(&a, &b),
            [
                "emails",
                "name.givenName",
                "password",
                "title",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            ]
        );
    }
}
