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
//! Stores derive events from the state before and after each write with [`events_for`],
//! so every store emits the same events for the same change.
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
//!             // e.g. training.enrol(&event.tenant, &event.user_id, "onboarding", event.id)?
//!             println!("enrolling {} of {} (event {})", event.user_name, event.tenant, event.id);
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
use serde::Serialize;
use serde_json::Value;

use crate::context::RequestContext;
use crate::error::StoreError;
use crate::resource::User;

/// What happened to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// The user was deleted.
    UserDeleted,
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
    /// The user's id.
    pub user_id: String,
    /// The user's `userName` (after the change).
    pub user_name: String,
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
/// included by name only, never by value).
pub fn changed_paths(old: &User, new: &User) -> Vec<String> {
    let (a, b) = (old.to_value(), new.to_value());
    let mut out = Vec::new();
    diff_objects(&a, &b, "", false, &mut out);
    if old.password.as_ref().map(|p| p.expose()) != new.password.as_ref().map(|p| p.expose()) {
        out.push("password".into());
    }
    out.sort();
    out.dedup();
    out
}

/// `in_extension` says `prefix` is an extension URN: its attributes join it with `:`
/// (`urn:...:User:manager`); sub-attributes join with `.` (`urn:...:User:manager.value`).
fn diff_objects(a: &Value, b: &Value, prefix: &str, in_extension: bool, out: &mut Vec<String>) {
    let empty = serde_json::Map::new();
    let (ma, mb) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    for key in ma.keys().chain(mb.keys()) {
        if prefix.is_empty() && (key == "meta" || key == "schemas" || key == "id") {
            continue;
        }
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
            (Some(Value::Object(_)), Some(Value::Object(_))) => {
                diff_objects(
                    va.unwrap_or(&Value::Null),
                    vb.unwrap_or(&Value::Null),
                    &path,
                    prefix.is_empty() && key.starts_with("urn:"),
                    out,
                );
            }
            _ => out.push(path),
        }
    }
}

/// Builds the outbox records of one write. For stores.
pub fn record(
    ctx: &RequestContext,
    kinds: Vec<EventKind>,
    user: &User,
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
            user_id: user.id.as_deref().unwrap_or_default().to_owned(),
            user_name: user.user_name.to_string(),
            time,
        })
        .collect()
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
