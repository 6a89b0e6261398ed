//! The event outbox and API keys over the SQL stores.

use std::sync::Arc;

use scimkit::events::EventOutbox;
use scimkit::{RequestContext, User, UserStore};

use super::*;

/// An `EventSink` that keeps what it is given.
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<scimkit::events::ProvisioningEvent>>);

#[async_trait::async_trait]
impl scimkit::events::EventSink for Collect {
    async fn deliver(
        &self,
        e: &scimkit::events::ProvisioningEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.lock().unwrap().push(e.clone());
        Ok(())
    }
}

/// A store built without the outbox writes no event, and `plain` (no outbox) still reads
/// and acknowledges the events `with_outbox` (same database) wrote, as a dispatcher in a
/// process of its own would.
pub async fn check_outbox_off_by_default<S: UserStore + EventOutbox>(plain: &S, with_outbox: &S) {
    let c = RequestContext::system(unique("outbox-off"));
    let u = plain.create(&c, new_user("quiet")).await.unwrap();
    let mut changed = User::clone(&u);
    changed.title = Some("changed".into());
    plain.replace(&c, changed, u.version()).await.unwrap();
    plain
        .delete(&c, u.id.as_deref().unwrap(), None)
        .await
        .unwrap();
    assert!(
        plain.pending_events(100).await.unwrap().is_empty(),
        "no event without with_outbox()"
    );
    with_outbox.create(&c, new_user("loud")).await.unwrap();
    let pending = plain.pending_events(100).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].resource_name, "loud");
    plain.acknowledge_events(pending[0].id).await.unwrap();
    assert!(with_outbox.pending_events(100).await.unwrap().is_empty());
}

/// Writers on several stores (pools) create users while one dispatcher delivers and
/// acknowledges: every event is delivered exactly once, in id order. An outbox whose ids
/// were not in commit order would lose events here (an acknowledged id range would
/// cover a row committed after it was read).
pub async fn check_dispatch_during_writes_loses_nothing(
    writers: Vec<Arc<dyn UserStore>>,
    dispatch_from: Arc<dyn EventOutbox>,
) {
    let tenant = unique("outbox-live");
    let per_writer = 40;
    let mut tasks = Vec::new();
    for (w, store) in writers.iter().enumerate() {
        for lane in 0..2 {
            let (store, tenant) = (store.clone(), tenant.clone());
            tasks.push(tokio::spawn(async move {
                let c = RequestContext::system(&tenant);
                for i in 0..per_writer / 2 {
                    let name = format!("w{w}-l{lane}-{i}");
                    store.create(&c, new_user(&name)).await.unwrap();
                }
            }));
        }
    }
    let sink = Arc::new(Collect::default());
    let dispatcher = scimkit::events::EventDispatcher::new(dispatch_from, sink.clone());
    while tasks.iter().any(|t| !t.is_finished()) {
        dispatcher.run_once().await.unwrap();
        tokio::task::yield_now().await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    dispatcher.run_once().await.unwrap();
    let seen = sink.0.lock().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0].id < w[1].id),
        "delivered in id order"
    );
    let mut names: Vec<_> = seen.iter().map(|e| e.resource_name.clone()).collect();
    names.sort();
    let mut expected: Vec<_> = (0..writers.len())
        .flat_map(|w| {
            (0..2)
                .flat_map(move |lane| (0..per_writer / 2).map(move |i| format!("w{w}-l{lane}-{i}")))
        })
        .collect();
    expected.sort();
    assert_eq!(names, expected, "every event delivered exactly once");
}

/// `ApiKeys` and `Tenants` over the SQL stores, in front of a SQL user store: the switches
/// gate requests, the last use is recorded, revocation takes effect on the next request.
pub async fn check_api_keys_end_to_end(
    users: Arc<dyn UserStore>,
    key_store: Arc<dyn scimkit::ApiKeyStore>,
    tenant_store: Arc<dyn scimkit::TenantStore>,
) {
    use scimkit::keys::{ApiKeys, Tenants};
    let tenant = unique("e2e");
    let tenants = Tenants::shared(tenant_store);
    let keys = ApiKeys::shared(key_store, tenants.clone());
    tenants.set_scim_entitled(&tenant, true).await.unwrap();
    let key = keys.create(&tenant, "Okta", None).await.unwrap();
    let server = scimkit::ScimServer::builder()
        .shared_store(users)
        .authenticator(keys.clone())
        .build()
        .unwrap();
    let call = |method: &str, body: Option<serde_json::Value>| {
        let mut b = http::Request::builder()
            .method(method)
            .uri("/scim/v2/Users")
            .header("host", "scim.example.com")
            .header("authorization", format!("Bearer {}", key.secret.expose()));
        if body.is_some() {
            b = b.header("content-type", "application/scim+json");
        }
        let bytes = body.map(|v| v.to_string().into_bytes()).unwrap_or_default();
        let server = server.clone();
        let req = b.body(bytes).unwrap();
        async move { server.handle(req).await.status().as_u16() }
    };
    assert_eq!(call("GET", None).await, 403, "the admin's switch is off");
    tenants.set_scim_enabled(&tenant, true).await.unwrap();
    assert_eq!(call("GET", None).await, 200);
    let body = serde_json::json!({"userName": "e2e@example.com"});
    assert_eq!(call("POST", Some(body)).await, 201);
    let listed = keys.list(&tenant).await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "the use is recorded");
    tenants.set_scim_entitled(&tenant, false).await.unwrap();
    assert_eq!(call("GET", None).await, 403, "the entitlement is gone");
    let t = tenants.get(&tenant).await.unwrap();
    assert!(
        t.scim_enabled && !t.scim_entitled,
        "the admin's switch is kept"
    );
    tenants.set_scim_entitled(&tenant, true).await.unwrap();
    assert_eq!(call("GET", None).await, 200);
    keys.revoke(&tenant, &key.info.id).await.unwrap();
    assert_eq!(call("GET", None).await, 401, "revoked on the next request");
    assert!(keys.list(&tenant).await.unwrap()[0].revoked_at.is_some());
}
