//! Updates through two servers over two stores of one database (two replicas), each
//! starting from the users it keeps (`UserStore::kept`).

use std::sync::Arc;

use scimkit::{Principal, ScimServer, StaticKeyAuthenticator, UserStore};
use serde_json::{Value, json};

async fn send(server: &ScimServer, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "scim.example.com")
        .header("authorization", "Bearer k")
        .header("content-type", "application/scim+json");
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let resp = server.handle(req.body(bytes).expect("request")).await;
    let status = resp.status().as_u16();
    let json: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (status, json)
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// A kept user made stale by the other replica is read again: an answer has the other
/// replica's writes, and racing PATCHes through both lose nothing.
pub async fn check_updates_through_two_replicas(a: Arc<dyn UserStore>, b: Arc<dyn UserStore>) {
    let server = |store: Arc<dyn UserStore>| {
        Arc::new(
            ScimServer::builder()
                .base_path("/scim/v2")
                .shared_store(store)
                .authenticator(
                    StaticKeyAuthenticator::new().with_key("k", Principal::new("acme", "okta")),
                )
                .build()
                .expect("server"),
        )
    };
    let (a, b) = (server(a), server(b));
    let (status, created) = send(
        &a,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": format!("replicated-{}", uuid::Uuid::new_v4())})),
    )
    .await;
    assert_eq!(status, 201);
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().expect("id"));
    // B writes behind A's kept copy; A's PATCH keeps B's write.
    let from_b = patch(json!([{"op": "replace", "path": "displayName", "value": "From B"}]));
    assert_eq!(send(&b, "PATCH", &uri, Some(from_b)).await.0, 200);
    let from_a = patch(json!([{"op": "replace", "path": "title", "value": "From A"}]));
    let (status, got) = send(&a, "PATCH", &uri, Some(from_a)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        (got["displayName"].as_str(), got["title"].as_str()),
        (Some("From B"), Some("From A"))
    );
    // Racing: each replica adds emails of its own, one PATCH each.
    let mut tasks = Vec::new();
    for (name, server) in [("a", &a), ("b", &b)] {
        for i in 0..15 {
            let (server, uri) = (Arc::clone(server), uri.clone());
            let body = patch(json!([{"op": "add", "path": "emails",
                "value": [{"value": format!("{name}{i}@x.example")}]}]));
            tasks.push(tokio::spawn(async move {
                send(&server, "PATCH", &uri, Some(body)).await.0
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 200);
    }
    let (_, stored) = send(&b, "GET", &uri, None).await;
    assert_eq!(
        stored["emails"].as_array().map(Vec::len),
        Some(30),
        "no PATCH lost: {stored}"
    );
}
