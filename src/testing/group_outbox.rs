//! Conformance checks for the events of a [`GroupStore`] (feature `testing`): the events
//! [`MemoryUserStore::group_store`](crate::MemoryUserStore::group_store) records in its
//! user store's outbox, recorded by any other group store that keeps an outbox.
//!
//! ```
//! # async fn demo() {
//! use std::sync::Arc;
//! use scimkit::MemoryUserStore;
//! scimkit::testing::group_outbox::check_group_outbox(|| {
//!     let users = Arc::new(MemoryUserStore::new().with_outbox());
//!     let groups = Arc::new(users.group_store());
//!     (users.clone(), users, groups)
//! })
//! .await;
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
//! ```
//!
//! Each call of `make` gives a user store, its outbox (enabled and empty: the checks read
//! and acknowledge all of it) and the group store whose members are its users and whose
//! events go to that outbox. Each check panics with a message naming the broken rule.

use std::sync::Arc;

use serde_json::{Value, json};

use super::outbox::{KEY, send};
use crate::auth::StaticKeyAuthenticator;
use crate::events::{EventKind, EventOutbox, ProvisioningEvent};
use crate::group::GroupStore;
use crate::server::ScimServer;
use crate::store::{Principal, UserStore};

/// The stores of one check: users, their outbox, groups.
pub type Stores = (
    Arc<dyn UserStore>,
    Arc<dyn EventOutbox>,
    Arc<dyn GroupStore>,
);

/// Runs every group event check against stores made by `make`.
pub async fn check_group_outbox(make: impl Fn() -> Stores) {
    group_lifecycle_through_the_server_records_every_event(make()).await;
    failed_group_writes_record_nothing(make()).await;
}

fn server((users, _, groups): &Stores, tenant: &str) -> ScimServer {
    ScimServer::builder()
        .shared_store(users.clone())
        .shared_groups(groups.clone())
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new(tenant, "entra")))
        .build()
        .expect("server")
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn members(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

fn changed(joined: &[&str], left: &[&str]) -> EventKind {
    let mut joined: Vec<String> = joined.iter().map(|s| (*s).to_owned()).collect();
    let mut left: Vec<String> = left.iter().map(|s| (*s).to_owned()).collect();
    joined.sort();
    left.sort();
    EventKind::GroupMembersChanged { joined, left }
}

fn updated(paths: &[&str]) -> EventKind {
    EventKind::GroupUpdated {
        changed: paths.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// A write that must succeed (`2xx`), returning its body.
async fn ok(server: &ScimServer, method: &str, uri: &str, body: Option<Value>, req: &str) -> Value {
    let (status, reply) = send(server, method, uri, body, req).await;
    assert!(
        (200..300).contains(&status),
        "{method} {uri}: {status} {reply}"
    );
    reply
}

/// Every pending event, acknowledged.
async fn drain(outbox: &Arc<dyn EventOutbox>) -> Vec<ProvisioningEvent> {
    let events = outbox.pending_events(1_000).await.expect("pending_events");
    if let Some(last) = events.last() {
        outbox
            .acknowledge_events(last.id)
            .await
            .expect("acknowledge");
    }
    events
}

async fn group_lifecycle_through_the_server_records_every_event(stores: Stores) {
    let tenant = format!("group-events-{}", uuid::Uuid::new_v4().simple());
    let server = server(&stores, &tenant);
    let outbox = &stores.1;
    let mut ids = Vec::new();
    for name in ["a@example.com", "b@example.com", "c@example.com"] {
        let user = ok(
            &server,
            "POST",
            "/scim/v2/Users",
            Some(json!({"userName": name})),
            "req-user",
        )
        .await;
        ids.push(user["id"].as_str().expect("a user id").to_owned());
    }
    let [a, b, c] = [ids[0].as_str(), ids[1].as_str(), ids[2].as_str()];
    let users = drain(outbox).await;
    assert_eq!(users.len(), 3, "one userCreated per user: {users:?}");

    // Created with two members and an id naming no user (skipped).
    let created = ok(
        &server,
        "POST",
        "/scim/v2/Groups",
        Some(json!({"displayName": "Eng", "members": members(&[a, b, "no-such-user"])})),
        "req-g-create",
    )
    .await;
    let gid = created["id"].as_str().expect("a group id").to_owned();
    let uri = format!("/scim/v2/Groups/{gid}");
    let steps: Vec<(&str, Option<Value>, Vec<EventKind>)> = vec![
        // Adds b (already a member) and c: c joined.
        (
            "PATCH",
            Some(patch(
                json!([{"op": "Add", "path": "members", "value": members(&[b, c])}]),
            )),
            vec![changed(&[c], &[])],
        ),
        // Adding a member already there, removing one who is not: nothing changes.
        (
            "PATCH",
            Some(patch(json!([
                {"op": "add", "path": "members", "value": members(&[a])},
                {"op": "remove", "path": "members[value eq \"no-such-user\"]"}
            ]))),
            vec![],
        ),
        // Okta: a path-less rename carrying the read-only id, with a removal.
        (
            "PATCH",
            Some(patch(json!([
                {"op": "replace", "value": {"id": gid, "displayName": "Engineering"}},
                {"op": "remove", "path": format!("members[value eq \"{b}\"]")}
            ]))),
            vec![updated(&["displayName"]), changed(&[], &[b])],
        ),
        // The whole list replaced: {a, c} -> {a, b}; a stays, so it is in neither list.
        (
            "PATCH",
            Some(patch(
                json!([{"op": "replace", "path": "members", "value": members(&[a, b])}]),
            )),
            vec![changed(&[b], &[c])],
        ),
        // A PUT of the group as it is changes nothing.
        (
            "PUT",
            Some(json!({"displayName": "Engineering", "members": members(&[b, a])})),
            vec![],
        ),
        (
            "PATCH",
            Some(patch(
                json!([{"op": "replace", "path": "externalId", "value": "ext-1"}]),
            )),
            vec![updated(&["externalId"])],
        ),
        // Entra: remove with a value list removes those members only.
        (
            "PATCH",
            Some(patch(
                json!([{"op": "Remove", "path": "members", "value": members(&[a])}]),
            )),
            vec![changed(&[], &[a])],
        ),
    ];
    let mut first = drain(outbox).await;
    assert_eq!(
        first.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        vec![EventKind::GroupCreated, changed(&[a, b], &[])],
        "a create records groupCreated, then its first members"
    );
    for e in &first {
        assert_eq!(
            (e.resource_id.as_str(), e.resource_name.as_str()),
            (gid.as_str(), "Eng"),
            "a group event names the group: {e:?}"
        );
        assert_eq!(e.kind.resource_type(), "Group");
        assert_eq!(
            (e.tenant.as_str(), e.key_id.as_str(), e.request_id.as_str()),
            (tenant.as_str(), "entra", "req-g-create")
        );
    }
    let mut last_id = first.pop().map_or(0, |e| e.id);
    for (i, (method, body, expected)) in steps.into_iter().enumerate() {
        let request = format!("req-g-{i}");
        ok(&server, method, &uri, body, &request).await;
        let events = drain(outbox).await;
        assert_eq!(
            events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
            expected,
            "step {i} ({method})"
        );
        for e in &events {
            assert!(e.id > last_id, "ids increase: {e:?} after {last_id}");
            last_id = e.id;
            assert_eq!(e.request_id, request);
            assert_eq!(e.resource_id, gid);
        }
    }
    // b is a member; deleting b records userDeleted only (its memberships go with it).
    ok(
        &server,
        "DELETE",
        &format!("/scim/v2/Users/{b}"),
        None,
        "req-del-b",
    )
    .await;
    let events = drain(outbox).await;
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        vec![EventKind::UserDeleted],
        "a deleted user's memberships record no group event"
    );
    ok(&server, "DELETE", &uri, None, "req-g-del").await;
    let events = drain(outbox).await;
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        vec![EventKind::GroupDeleted]
    );
    assert_eq!(
        (
            events[0].resource_id.as_str(),
            events[0].resource_name.as_str()
        ),
        (gid.as_str(), "Engineering"),
        "groupDeleted names the group as it was"
    );
}

async fn failed_group_writes_record_nothing(stores: Stores) {
    let tenant = format!("group-events-failed-{}", uuid::Uuid::new_v4().simple());
    let server = server(&stores, &tenant);
    let outbox = &stores.1;
    let user = ok(
        &server,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "m@example.com"})),
        "req",
    )
    .await;
    let uid = user["id"].as_str().expect("a user id").to_owned();
    for name in ["Admins", "Ops"] {
        ok(
            &server,
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": name})),
            "req",
        )
        .await;
    }
    let (_, page) = send(
        &server,
        "GET",
        "/scim/v2/Groups?filter=displayName%20eq%20%22Ops%22",
        None,
        "req",
    )
    .await;
    let ops = page["Resources"][0]["id"].as_str().expect("Ops").to_owned();
    let uri = format!("/scim/v2/Groups/{ops}");
    drain(outbox).await;

    let add = patch(json!([{"op": "add", "path": "members", "value": members(&[&uid])}]));
    let rename = |name: &str| {
        patch(json!([
            {"op": "add", "path": "members", "value": members(&[&uid])},
            {"op": "replace", "path": "displayName", "value": name}
        ]))
    };
    let failures: Vec<(&str, String, Option<Value>, u16)> = vec![
        // Renamed to a name taken in another case, with a membership edit: 409, neither.
        ("PATCH", uri.clone(), Some(rename("ADMINS")), 409),
        (
            "POST",
            "/scim/v2/Groups".into(),
            Some(json!({"displayName": "admins"})),
            409,
        ),
        (
            "PATCH",
            "/scim/v2/Groups/no-such-group".into(),
            Some(add.clone()),
            404,
        ),
        ("DELETE", "/scim/v2/Groups/no-such-group".into(), None, 404),
        (
            "PATCH",
            uri.clone(),
            Some(patch(json!([{"op": "explode", "path": "members"}]))),
            400,
        ),
    ];
    for (method, at, body, status) in failures {
        let (got, reply) = send(&server, method, &at, body, "req-fail").await;
        assert_eq!(got, status, "{method} {at}: {reply}");
    }
    // A stale ETag: 412, and nothing recorded.
    let mut stale = http::Request::builder()
        .method("PATCH")
        .uri(&uri)
        .header("host", "scim.example.com")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/scim+json")
        .header("if-match", "W/\"999999999\"");
    stale = stale.header("x-request-id", "req-stale");
    let resp = server
        .handle(stale.body(add.to_string().into_bytes()).expect("request"))
        .await;
    assert_eq!(resp.status().as_u16(), 412, "a stale If-Match fails");
    let events = drain(outbox).await;
    assert!(
        events.is_empty(),
        "failed group writes record no events: {events:?}"
    );
    // The membership edit of the failed rename did not happen either.
    ok(&server, "PATCH", &uri, Some(add), "req-add").await;
    let events = drain(outbox).await;
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        vec![changed(&[&uid], &[])]
    );
}

/// Concurrent compare-and-swap writes to one group through every group store of `stores`
/// (e.g. over two pools on one database, as two replicas have), each renaming the group
/// and adding a user of its own: each successful write records its `groupUpdated` and
/// `groupMembersChanged` (both or neither), a refused one none, in commit order.
///
/// `users` is a user store of the same database; the group stores share `outbox`, enabled
/// and empty.
pub async fn check_group_outbox_commit_order(
    users: Arc<dyn UserStore>,
    outbox: Arc<dyn EventOutbox>,
    stores: Vec<Arc<dyn GroupStore>>,
) {
    use crate::group::{GroupChange, MemberEdit};
    use crate::resource::CompactString;
    use crate::store::{RequestContext, StoreError};
    const ROUNDS: usize = 10;
    const WRITERS_PER_STORE: usize = 2;
    /// A successful write: the version it expected, the one it wrote, its request id and
    /// the user it added.
    type Won = (String, String, String, String);
    let tenant = format!("group-events-order-{}", uuid::Uuid::new_v4().simple());
    let c = RequestContext::system(&tenant);
    let created = stores[0]
        .create(&c, super::groups::new_group("Order", &[]))
        .await
        .expect("create");
    let gid = created.id.clone().expect("id");
    let writers = stores.len() * WRITERS_PER_STORE;
    let mut joiners = Vec::new();
    for i in 0..writers * ROUNDS {
        let u = users
            .create(&c, super::new_user(&format!("joiner-{i}")))
            .await
            .expect("user");
        joiners.push(u.id.clone().expect("id"));
    }
    drain(&outbox).await;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = stores[w % stores.len()].clone();
        let (tenant, gid, joiners) = (tenant.clone(), gid.clone(), joiners.clone());
        tasks.push(Box::pin(async move {
            let mut won = Vec::new();
            for round in 0..ROUNDS {
                let request_id = format!("w{w}-r{round}");
                let c = RequestContext::new(Principal::new(&tenant, "writer"), &request_id);
                let current = store
                    .get(&c, &gid, false)
                    .await
                    .expect("get")
                    .expect("group");
                let joiner: CompactString = joiners[w * ROUNDS + round].clone();
                let change = GroupChange::edit(vec![MemberEdit::Add(vec![joiner.clone()])])
                    .with_display_name(request_id.as_str());
                let now = chrono::Utc::now();
                match store
                    .update(&c, &gid, &change, now, current.version(), false)
                    .await
                {
                    Ok(stored) => won.push((
                        current.version().expect("version").to_owned(),
                        stored.version().expect("version").to_owned(),
                        request_id,
                        joiner.to_string(),
                    )),
                    Err(StoreError::VersionMismatch) => {}
                    Err(e) => panic!("update failed: {e}"),
                }
            }
            won
        })
            as std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Won>>>>);
    }
    let results: Vec<_> = super::keys::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    // The successful writes chained by version from the create: the commit order.
    let by_expected: std::collections::HashMap<&str, (&str, &str, &str)> = results
        .iter()
        .map(|(before, after, req, joiner)| {
            (
                before.as_str(),
                (after.as_str(), req.as_str(), joiner.as_str()),
            )
        })
        .collect();
    let mut order = Vec::new();
    let mut version = created.version().expect("version");
    while let Some((next, req, joiner)) = by_expected.get(version) {
        order.push((*req, *joiner));
        version = next;
    }
    assert_eq!(
        order.len(),
        results.len(),
        "every success follows the previous one"
    );
    assert!(!order.is_empty(), "some writes succeeded");
    let events = drain(&outbox).await;
    let mut expected = Vec::new();
    for (req, joiner) in &order {
        expected.push((updated(&["displayName"]), (*req).to_owned()));
        expected.push((changed(&[joiner], &[]), (*req).to_owned()));
    }
    let recorded: Vec<_> = events
        .iter()
        .map(|e| (e.kind.clone(), e.request_id.clone()))
        .collect();
    assert_eq!(
        recorded, expected,
        "both events of each successful write, none of a refused one, in commit order"
    );
}
