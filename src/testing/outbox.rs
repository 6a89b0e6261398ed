//! Conformance checks for the event outbox of a [`UserStore`] (feature `testing`): the
//! events [`MemoryUserStore::with_outbox`](crate::MemoryUserStore::with_outbox) records,
//! recorded by any other store that keeps an outbox.
//!
//! ```
//! # async fn demo() {
//! use scimkit::MemoryUserStore;
//! scimkit::testing::outbox::check_outbox(|| MemoryUserStore::new().with_outbox()).await;
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
//! ```
//!
//! Each store from `make` must have its outbox enabled and empty (a fresh database): the
//! checks read and acknowledge the whole outbox. Each check panics with a message naming
//! the broken rule.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::keys::join_all;
use super::{create_numbered, new_user};
use crate::auth::StaticKeyAuthenticator;
use crate::events::{
    DispatchError, EventDispatcher, EventKind, EventOutbox, EventSink, ProvisioningEvent,
};
use crate::resource::User;
use crate::server::ScimServer;
use crate::store::{Principal, RequestContext, StoreError, UserStore};

pub(super) const KEY: &str = "outbox-check-key";

/// A name no other test run uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn kinds(events: &[ProvisioningEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind.clone()).collect()
}

fn updated(paths: &[&str]) -> EventKind {
    EventKind::UserUpdated {
        changed: paths.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// Runs every outbox check against stores made by `make` (outbox on, empty).
pub async fn check_outbox<S: UserStore + EventOutbox + 'static>(make: impl Fn() -> S) {
    lifecycle_through_the_server_records_every_event(Arc::new(make())).await;
    failed_and_no_op_writes_record_nothing(&make()).await;
    pending_is_ordered_and_acknowledge_removes_a_prefix(&make()).await;
    dispatcher_delivers_in_order_and_resumes_after_a_failure(Arc::new(make())).await;
}

/// A request through `server` with the check's key and a request id.
pub(super) async fn send(
    server: &ScimServer,
    method: &str,
    uri: &str,
    body: Option<Value>,
    request_id: &str,
) -> (u16, Value) {
    let mut b = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "scim.example.com")
        .header("authorization", format!("Bearer {KEY}"))
        .header("x-request-id", request_id);
    if body.is_some() {
        b = b.header("content-type", "application/scim+json");
    }
    let bytes = body.map(|v| v.to_string().into_bytes()).unwrap_or_default();
    let resp = server.handle(b.body(bytes).expect("valid request")).await;
    let json = if resp.body().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(resp.body()).expect("JSON response")
    };
    (resp.status().as_u16(), json)
}

async fn lifecycle_through_the_server_records_every_event<S: UserStore + EventOutbox + 'static>(
    store: Arc<S>,
) {
    let tenant = unique("outbox-lifecycle");
    let server = ScimServer::builder()
        .shared_store(store.clone())
        .authenticator(
            StaticKeyAuthenticator::new().with_key(KEY, Principal::new(&tenant, "okta-key")),
        )
        .build()
        .expect("server");
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let (status, created) = send(
        &server,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "ev@example.com", "active": true})),
        "req-create-1",
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().expect("an id"));
    let steps = [
        (
            "PUT",
            Some(json!({"userName": "ev@example.com", "title": "Guide"})),
        ),
        (
            "PATCH",
            Some(patch(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
        ),
        (
            "PATCH",
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        ),
        ("DELETE", None),
    ];
    for (i, (method, body)) in steps.into_iter().enumerate() {
        let (status, reply) = send(&server, method, &uri, body, &format!("req-{i}")).await;
        assert!(status < 300, "{method}: {status} {reply}");
    }
    let events = store.pending_events(100).await.expect("pending_events");
    assert_eq!(
        kinds(&events),
        vec![
            EventKind::UserCreated,
            updated(&["title"]),
            updated(&["active"]),
            EventKind::UserDeactivated,
            updated(&["active"]),
            EventKind::UserReactivated,
            EventKind::UserDeleted,
        ],
        "the lifecycle records the memory store's events"
    );
    let first = &events[0];
    assert_eq!(
        (
            first.tenant.as_str(),
            first.key_id.as_str(),
            first.request_id.as_str()
        ),
        (tenant.as_str(), "okta-key", "req-create-1"),
        "events carry the tenant, key id and request id of the write"
    );
    let request_ids: Vec<_> = events.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(
        request_ids,
        [
            "req-create-1",
            "req-0",
            "req-1",
            "req-1",
            "req-2",
            "req-2",
            "req-3"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.resource_name == "ev@example.com" && e.resource_id == first.resource_id),
        "{events:?}"
    );
    assert!(
        events.windows(2).all(|w| w[0].id < w[1].id),
        "pending events are in id order"
    );
}

async fn failed_and_no_op_writes_record_nothing(store: &(impl UserStore + EventOutbox)) {
    let c = RequestContext::system(unique("outbox-failures"));
    let other_tenant = RequestContext::system(unique("outbox-failures-other"));
    let a = store
        .create(&c, new_user("dup@example.com"))
        .await
        .expect("create");
    let a_id = a.id.clone().expect("id");
    assert!(
        matches!(
            store.create(&c, new_user("DUP@example.com")).await,
            Err(StoreError::Uniqueness { .. })
        ),
        "duplicate userName is refused"
    );
    store
        .create(&c, new_user("other@example.com"))
        .await
        .expect("create");
    let mut renamed = User::clone(&a);
    renamed.user_name = "OTHER@example.com".into();
    assert!(
        matches!(
            store.replace(&c, renamed, None).await,
            Err(StoreError::Uniqueness { .. })
        ),
        "a rename onto a taken userName is refused"
    );
    let mut titled = User::clone(&a);
    titled.title = Some("Guide".into());
    let a2 = store
        .replace(&c, titled, a.version())
        .await
        .expect("replace");
    let mut stale = User::clone(&a2);
    stale.title = Some("Stale".into());
    assert!(
        matches!(
            store.replace(&c, stale, a.version()).await,
            Err(StoreError::VersionMismatch)
        ),
        "a replace with a stale version is refused"
    );
    assert!(matches!(
        store.delete(&c, &a_id, a.version()).await,
        Err(StoreError::VersionMismatch)
    ));
    let mut missing = new_user("missing@example.com");
    missing.id = Some(unique("missing").into());
    assert!(matches!(
        store.replace(&c, missing, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete(&c, "no-such-id", None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete(&other_tenant, &a_id, None).await,
        Err(StoreError::NotFound)
    ));
    let current = store.get(&c, &a_id).await.expect("get").expect("stored");
    store
        .replace(&c, User::clone(&current), current.version())
        .await
        .expect("a replace that changes nothing succeeds");
    let events = store.pending_events(100).await.expect("pending_events");
    assert_eq!(
        kinds(&events),
        vec![
            EventKind::UserCreated,
            EventKind::UserCreated,
            updated(&["title"])
        ],
        "failed writes and writes that change nothing record no event"
    );
    let names: Vec<_> = events.iter().map(|e| e.resource_name.as_str()).collect();
    assert_eq!(
        names,
        ["dup@example.com", "other@example.com", "dup@example.com"]
    );
}

async fn pending_is_ordered_and_acknowledge_removes_a_prefix(
    store: &(impl UserStore + EventOutbox),
) {
    let c = RequestContext::system(unique("outbox-ack"));
    create_numbered(store, &c, "ack", 5).await;
    let all = store.pending_events(100).await.expect("pending_events");
    let names: Vec<_> = all.iter().map(|e| e.resource_name.as_str()).collect();
    assert_eq!(names, ["ack0", "ack1", "ack2", "ack3", "ack4"]);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert_eq!(
        store.pending_events(2).await.expect("pending_events"),
        all[..2],
        "pending_events(limit) returns the oldest `limit`"
    );
    assert!(store.pending_events(0).await.expect("pending").is_empty());
    store.acknowledge_events(all[1].id).await.expect("ack");
    assert_eq!(
        store.pending_events(100).await.expect("pending_events"),
        all[2..],
        "acknowledge_events(id) removes every event up to id"
    );
    store.acknowledge_events(all[1].id).await.expect("ack");
    assert_eq!(
        store.pending_events(100).await.expect("pending").len(),
        3,
        "acknowledging again changes nothing"
    );
    store.acknowledge_events(all[4].id).await.expect("ack");
    assert!(store.pending_events(100).await.expect("pending").is_empty());
    store.create(&c, new_user("ack5")).await.expect("create");
    let next = store.pending_events(100).await.expect("pending_events");
    assert_eq!(next.len(), 1);
    assert!(
        next[0].id > all[4].id,
        "ids are never reused, not even after every event was acknowledged"
    );
    store.acknowledge_events(u64::MAX).await.expect("ack");
    assert!(store.pending_events(100).await.expect("pending").is_empty());
}

#[derive(Default)]
struct Collect {
    seen: Mutex<Vec<ProvisioningEvent>>,
    fail_next: Mutex<usize>,
}

#[async_trait]
impl EventSink for Collect {
    async fn deliver(
        &self,
        e: &ProvisioningEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut fail = self.fail_next.lock().unwrap_or_else(|e| e.into_inner());
        if *fail > 0 {
            *fail -= 1;
            return Err("sink down".into());
        }
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(e.clone());
        Ok(())
    }
}

async fn dispatcher_delivers_in_order_and_resumes_after_a_failure<
    S: UserStore + EventOutbox + 'static,
>(
    store: Arc<S>,
) {
    let c = RequestContext::system(unique("outbox-dispatch"));
    create_numbered(&*store, &c, "d", 3).await;
    let sink = Arc::new(Collect::default());
    let dispatcher = EventDispatcher::new(store.clone(), sink.clone());
    *sink.fail_next.lock().unwrap_or_else(|e| e.into_inner()) = 1;
    assert!(matches!(
        dispatcher.run_once().await,
        Err(DispatchError::Sink { .. })
    ));
    store.create(&c, new_user("d3")).await.expect("create");
    assert_eq!(dispatcher.run_once().await.expect("run_once"), 4);
    let names: Vec<_> = sink
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|e| e.resource_name.clone())
        .collect();
    assert_eq!(names, ["d0", "d1", "d2", "d3"], "delivered once, in order");
    assert_eq!(
        dispatcher.run_once().await.expect("run_once"),
        0,
        "acknowledged events are not delivered again"
    );
}

/// Concurrent compare-and-swap writes to two users through every store of `stores`
/// (e.g. two pools on one database, as two replicas have): each successful write records
/// one event, a refused one none, and the events of each user are in commit order.
///
/// The stores must share one outbox, enabled and empty.
pub async fn check_outbox_commit_order<S: UserStore + EventOutbox + 'static>(stores: Vec<Arc<S>>) {
    const ROUNDS: usize = 12;
    let tenant = unique("outbox-order");
    let c = RequestContext::system(&tenant);
    let mut users = Vec::new();
    for name in ["order-a", "order-b"] {
        let u = stores[0].create(&c, new_user(name)).await.expect("create");
        users.push(u);
    }
    // One writer per (store, user): get, change the title, replace with the version read.
    let mut writers: Vec<Pin<Box<dyn Future<Output = _>>>> = Vec::new();
    for (s, store) in stores.iter().enumerate() {
        for user in &users {
            let (store, tenant) = (store.clone(), tenant.clone());
            let id = user.id.clone().expect("id");
            writers.push(Box::pin(async move {
                let mut won = Vec::new();
                for round in 0..ROUNDS {
                    let request_id = format!("{id}/s{s}/r{round}");
                    let c = RequestContext::new(Principal::new(&tenant, "writer"), &request_id);
                    let current = store.get(&c, &id).await.expect("get").expect("stored");
                    let mut next = User::clone(&current);
                    next.title = Some(request_id.clone().into());
                    match store.replace(&c, next, current.version()).await {
                        Ok(stored) => won.push((
                            current.version().expect("version").to_owned(),
                            stored.version().expect("version").to_owned(),
                            request_id,
                        )),
                        Err(StoreError::VersionMismatch) => {}
                        Err(e) => panic!("replace failed: {e}"),
                    }
                }
                (id, won)
            }));
        }
    }
    let results = join_all(writers).await;
    let events = stores[0]
        .pending_events(100_000)
        .await
        .expect("pending_events");
    for user in &users {
        let id = user.id.as_deref().expect("id");
        // The successful writes, chained by version from the create: the commit order.
        let by_expected: HashMap<&str, (&str, &str)> = results
            .iter()
            .filter(|(uid, _)| uid == id)
            .flat_map(|(_, won)| won.iter())
            .map(|(before, after, req)| (before.as_str(), (after.as_str(), req.as_str())))
            .collect();
        let mut order = Vec::new();
        let mut version = user.version().expect("version");
        while let Some((next, req)) = by_expected.get(version) {
            order.push(*req);
            version = *next;
        }
        assert_eq!(
            order.len(),
            by_expected.len(),
            "every successful compare-and-swap follows the previous one"
        );
        assert!(!order.is_empty(), "some writes succeeded");
        let of_user: Vec<_> = events.iter().filter(|e| e.resource_id == id).collect();
        assert_eq!(of_user[0].kind, EventKind::UserCreated);
        assert!(
            of_user[1..].iter().all(|e| e.kind == updated(&["title"])),
            "{of_user:?}"
        );
        let recorded: Vec<_> = of_user[1..].iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(
            recorded, order,
            "one event per successful write, none for a refused one, in commit order"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryUserStore;

    #[tokio::test]
    async fn memory_outbox_passes() {
        check_outbox(|| MemoryUserStore::new().with_outbox()).await;
    }

    #[tokio::test]
    async fn memory_outbox_keeps_commit_order() {
        let store = Arc::new(MemoryUserStore::new().with_outbox());
        check_outbox_commit_order(vec![store.clone(), store]).await;
    }
}
