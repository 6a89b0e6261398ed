//! Provisioning events through `ScimServer::handle`: recorded with each committed write
//! in the store's outbox, delivered in order by the dispatcher, never on a request's path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::*;
use scimkit::events::{
    DispatchError, EventDispatcher, EventKind, EventOutbox, EventSink, ProvisioningEvent,
};
use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator};
use serde_json::json;

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
        let mut fail = self.fail_next.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return Err("sink down".into());
        }
        self.seen.lock().unwrap().push(e.clone());
        Ok(())
    }
}

fn setup() -> (
    ScimServer,
    Arc<MemoryUserStore>,
    Arc<Collect>,
    EventDispatcher,
) {
    let store = Arc::new(MemoryUserStore::new().with_outbox());
    let server = ScimServer::builder()
        .shared_store(store.clone())
        .authenticator(
            StaticKeyAuthenticator::new().with_key(KEY, Principal::new("acme", "okta-key")),
        )
        .build()
        .unwrap();
    let sink = Arc::new(Collect::default());
    let dispatcher = EventDispatcher::new(store.clone(), sink.clone());
    (server, store, sink, dispatcher)
}

fn kinds(events: &[ProvisioningEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind.clone()).collect()
}

fn ops(o: serde_json::Value) -> serde_json::Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": o})
}

#[tokio::test]
async fn lifecycle_emits_created_updated_deactivated_reactivated_deleted() {
    let (s, _, sink, dispatcher) = setup();
    let auth = format!("Bearer {KEY}");
    let r = send_with(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "ev@example.com", "active": true})),
        &[("authorization", &auth), ("x-request-id", "req-create-1")],
    )
    .await;
    assert_eq!(r.status, 201);
    let uri = format!("/scim/v2/Users/{}", r.json["id"].as_str().unwrap());
    send(
        &s,
        "PUT",
        &uri,
        Some(json!({"userName": "ev@example.com", "title": "Guide"})),
    )
    .await;
    send(
        &s,
        "PATCH",
        &uri,
        Some(ops(json!([{"op": "replace", "value": {"active": false}}]))),
    )
    .await;
    send(
        &s,
        "PATCH",
        &uri,
        Some(ops(
            json!([{"op": "replace", "path": "active", "value": true}]),
        )),
    )
    .await;
    send(&s, "DELETE", &uri, None).await;
    assert_eq!(dispatcher.run_once().await.unwrap(), 7);
    let seen = sink.seen.lock().unwrap().clone();
    assert_eq!(
        kinds(&seen),
        vec![
            EventKind::UserCreated,
            EventKind::UserUpdated {
                changed: vec!["title".into()]
            },
            EventKind::UserUpdated {
                changed: vec!["active".into()]
            },
            EventKind::UserDeactivated,
            EventKind::UserUpdated {
                changed: vec!["active".into()]
            },
            EventKind::UserReactivated,
            EventKind::UserDeleted,
        ]
    );
    let first = &seen[0];
    assert_eq!(
        (
            first.tenant.as_str(),
            first.key_id.as_str(),
            first.request_id.as_str()
        ),
        ("acme", "okta-key", "req-create-1")
    );
    assert!(
        seen.iter()
            .all(|e| e.resource_name == "ev@example.com" && e.resource_id == seen[0].resource_id)
    );
    assert!(
        seen.windows(2).all(|w| w[0].id < w[1].id),
        "in commit order"
    );
    assert_eq!(
        dispatcher.run_once().await.unwrap(),
        0,
        "acknowledged events are not delivered again"
    );
}

#[tokio::test]
async fn failed_or_no_op_requests_emit_nothing() {
    let (s, store, _, _) = setup();
    let created = create(
        &s,
        json!({"userName": "dup@example.com", "displayName": "D"}),
    )
    .await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    send(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "DUP@example.com"})),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    send(
        &s,
        "PATCH",
        &uri,
        Some(ops(json!([{"op": "replace", "path": "id", "value": "x"}]))),
    )
    .await
    .assert_error(400, Some("mutability"));
    send(
        &s,
        "PATCH",
        &uri,
        Some(ops(
            json!([{"op": "replace", "path": "displayName", "value": "D"}]),
        )),
    )
    .await;
    let pending = store.pending_events(100).await.unwrap();
    assert_eq!(kinds(&pending), vec![EventKind::UserCreated]);
}

#[tokio::test]
async fn a_failing_sink_loses_nothing_and_keeps_order() {
    let (s, _, sink, dispatcher) = setup();
    for i in 0..3 {
        create(&s, json!({"userName": format!("u{i}")})).await;
    }
    *sink.fail_next.lock().unwrap() = 1;
    // The sink is down: the SCIM requests above succeeded anyway, and nothing is lost.
    assert!(matches!(
        dispatcher.run_once().await,
        Err(DispatchError::Sink { .. })
    ));
    assert!(sink.seen.lock().unwrap().is_empty());
    create(&s, json!({"userName": "u3"})).await;
    assert_eq!(dispatcher.run_once().await.unwrap(), 4);
    let names: Vec<_> = sink
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.resource_name.clone())
        .collect();
    assert_eq!(names, ["u0", "u1", "u2", "u3"]);
}

#[tokio::test]
async fn a_stalled_sink_never_delays_scim_requests() {
    struct Stalled(tokio::sync::Notify);
    #[async_trait]
    impl EventSink for Stalled {
        async fn deliver(
            &self,
            _: &ProvisioningEvent,
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            self.0.notified().await; // never notified: the sink hangs
            Ok(())
        }
    }
    let (s, store, _, _) = setup();
    create(&s, json!({"userName": "first"})).await;
    let stalled =
        EventDispatcher::new(store.clone(), Arc::new(Stalled(tokio::sync::Notify::new())));
    let background = tokio::spawn(async move { stalled.run_once().await.map(|_| ()) });
    // Requests keep completing while the dispatcher is stuck in the sink (the guard only
    // turns a deadlock into a failure instead of a hang).
    let guard = std::time::Duration::from_secs(30);
    for i in 0..20 {
        let r = tokio::time::timeout(
            guard,
            send(
                &s,
                "POST",
                "/scim/v2/Users",
                Some(json!({"userName": format!("n{i}")})),
            ),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 201);
    }
    assert_eq!(
        store.pending_events(1000).await.unwrap().len(),
        21,
        "all still pending, none lost"
    );
    background.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_of_one_user_are_recorded_in_commit_order() {
    let (s, store, _, _) = setup();
    let created = create(&s, json!({"userName": "busy@example.com"})).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (s, uri) = (s.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            send(&s, "PATCH", &uri, Some(ops(json!([{"op": "add", "path": "emails", "value": [{"value": format!("e{i}@x.com")}]}])))).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let events = store.pending_events(1000).await.unwrap();
    assert_eq!(events.len(), 31);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    let final_user = send(&s, "GET", &uri, None).await.json;
    assert_eq!(final_user["emails"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn csv_imports_emit_the_same_events() {
    let (s, store, _, _) = setup();
    let csv = "userName,givenName,active\nimp@example.com,Imp,true\n";
    scimkit::csv::Import::new(&s, scimkit::RequestContext::system("acme"))
        .run(csv.as_bytes())
        .await
        .unwrap();
    let csv = "userName,givenName,active\nIMP@example.com,Imp,false\n";
    scimkit::csv::Import::new(&s, scimkit::RequestContext::system("acme"))
        .run(csv.as_bytes())
        .await
        .unwrap();
    let events = store.pending_events(100).await.unwrap();
    assert_eq!(
        kinds(&events),
        vec![
            EventKind::UserCreated,
            EventKind::UserUpdated {
                changed: vec!["active".into()]
            },
            EventKind::UserDeactivated,
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.key_id == "system" && e.tenant == "acme")
    );
}
