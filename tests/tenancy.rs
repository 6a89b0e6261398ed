//! Tenants never meet: with API keys of two tenants on one server, tenant A can neither
//! see nor change tenant B's users, and learns nothing about them, through
//! `ScimServer::handle`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Reply, okta_user, send_with};
use scimkit::keys::{ApiKeys, MemoryApiKeyStore, MemoryTenantStore, Tenants};
use scimkit::{MemoryUserStore, ScimServer};
use serde_json::{Value, json};

/// A server with tenants `a` and `b`, each with a key; `b` has two users.
struct Two {
    server: ScimServer,
    key_a: String,
    key_b: String,
    /// B's user `shared@example.com`.
    b_id: String,
    /// B's user `b-only@example.com`.
    b_other_id: String,
}

impl Two {
    async fn new() -> Self {
        let tenants = Tenants::new(MemoryTenantStore::new());
        let keys = ApiKeys::new(MemoryApiKeyStore::new(), tenants.clone());
        let mut secrets = Vec::new();
        for t in ["a", "b"] {
            tenants.set_scim_entitled(t, true).await.unwrap();
            tenants.set_scim_enabled(t, true).await.unwrap();
            let new = keys.create(t, "IdP", None).await.unwrap();
            secrets.push(new.secret.expose().to_owned());
        }
        let server = ScimServer::builder()
            .store(MemoryUserStore::new())
            .authenticator(keys)
            .build()
            .unwrap();
        let mut two = Self {
            server,
            key_a: secrets[0].clone(),
            key_b: secrets[1].clone(),
            b_id: String::new(),
            b_other_id: String::new(),
        };
        let r = two
            .b(
                "POST",
                "/scim/v2/Users",
                Some(okta_user("shared@example.com")),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        two.b_id = r.json["id"].as_str().unwrap().to_owned();
        let r = two
            .b(
                "POST",
                "/scim/v2/Users",
                Some(okta_user("b-only@example.com")),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        two.b_other_id = r.json["id"].as_str().unwrap().to_owned();
        two
    }

    async fn send(&self, key: &str, method: &str, uri: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {key}");
        send_with(&self.server, method, uri, body, &[("authorization", &auth)]).await
    }

    async fn a(&self, method: &str, uri: &str, body: Option<Value>) -> Reply {
        self.send(&self.key_a, method, uri, body).await
    }

    async fn b(&self, method: &str, uri: &str, body: Option<Value>) -> Reply {
        self.send(&self.key_b, method, uri, body).await
    }

    fn b_uri(&self) -> String {
        format!("/scim/v2/Users/{}", self.b_id)
    }

    /// B's view of its own users is unchanged.
    async fn assert_b_untouched(&self) {
        let r = self.b("GET", &self.b_uri(), None).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["userName"], "shared@example.com");
        assert_eq!(r.json["active"], true);
        assert_eq!(r.json["displayName"], "Test User");
        assert_eq!(r.json["meta"]["version"], r.header("etag").unwrap());
        let r = self.b("GET", "/scim/v2/Users", None).await;
        assert_eq!(r.json["totalResults"], 2, "{}", r.json);
    }
}

fn patch_ops() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    })
}

#[tokio::test]
async fn tenant_a_cannot_read_b_users_by_id() {
    let t = Two::new().await;
    let r = t.a("GET", &t.b_uri(), None).await;
    r.assert_error(404, None);
    let r = t
        .a("GET", &format!("/scim/v2/Users/{}", t.b_other_id), None)
        .await;
    r.assert_error(404, None);
}

#[tokio::test]
async fn b_ids_are_404_for_a_exactly_like_unknown_ids() {
    let t = Two::new().await;
    const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";
    let b_id = t.a("GET", &t.b_uri(), None).await;
    let unknown = t.a("GET", &format!("/scim/v2/Users/{UNKNOWN}"), None).await;
    b_id.assert_error(404, None);
    unknown.assert_error(404, None);
    let detail = |r: &Reply, id: &str| r.json["detail"].as_str().unwrap().replace(id, "ID");
    assert_eq!(detail(&b_id, &t.b_id), detail(&unknown, UNKNOWN));
}

#[tokio::test]
async fn tenant_a_cannot_list_or_count_b_users() {
    let t = Two::new().await;
    let r = t.a("GET", "/scim/v2/Users", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["totalResults"], 0, "{}", r.json);
    assert!(r.json["Resources"].as_array().is_none_or(|a| a.is_empty()));
    let r = t.a("GET", "/scim/v2/Users?count=0", None).await;
    assert_eq!(r.json["totalResults"], 0, "{}", r.json);
    let r = t.b("GET", "/scim/v2/Users?count=0", None).await;
    assert_eq!(r.json["totalResults"], 2, "{}", r.json);
}

#[tokio::test]
async fn tenant_a_cannot_filter_b_users() {
    let t = Two::new().await;
    for filter in [
        "userName%20eq%20%22shared%40example.com%22",
        "userName%20sw%20%22b%22",
        "userName%20pr",
        &format!("id%20eq%20%22{}%22", t.b_id),
        "externalId%20pr",
        "emails.value%20co%20%22example%22",
    ] {
        let r = t
            .a("GET", &format!("/scim/v2/Users?filter={filter}"), None)
            .await;
        assert_eq!(r.status, 200, "{filter}: {}", r.json);
        assert_eq!(r.json["totalResults"], 0, "{filter}: {}", r.json);
    }
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"shared@example.com\""
    });
    let r = t.a("POST", "/scim/v2/Users/.search", Some(search)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["totalResults"], 0, "{}", r.json);
}

#[tokio::test]
async fn tenant_a_cannot_put_b_users() {
    let t = Two::new().await;
    let mut body = okta_user("shared@example.com");
    body["displayName"] = json!("Hijacked");
    let r = t.a("PUT", &t.b_uri(), Some(body)).await;
    r.assert_error(404, None);
    t.assert_b_untouched().await;
    assert_eq!(
        t.a("GET", "/scim/v2/Users", None).await.json["totalResults"],
        0
    );
}

#[tokio::test]
async fn tenant_a_cannot_patch_b_users() {
    let t = Two::new().await;
    let r = t.a("PATCH", &t.b_uri(), Some(patch_ops())).await;
    r.assert_error(404, None);
    t.assert_b_untouched().await;
}

#[tokio::test]
async fn tenant_a_cannot_delete_b_users() {
    let t = Two::new().await;
    let r = t.a("DELETE", &t.b_uri(), None).await;
    r.assert_error(404, None);
    t.assert_b_untouched().await;
}

#[tokio::test]
async fn tenant_a_may_create_a_user_name_that_exists_in_b() {
    let t = Two::new().await;
    let r = t
        .a(
            "POST",
            "/scim/v2/Users",
            Some(okta_user("shared@example.com")),
        )
        .await;
    assert_eq!(r.status, 201, "no cross-tenant 409: {}", r.json);
    let a_id = r.json["id"].as_str().unwrap().to_owned();
    assert_ne!(a_id, t.b_id);
    // Different letter case too (userName is caseExact false within a tenant only).
    let r = t
        .a(
            "POST",
            "/scim/v2/Users",
            Some(okta_user("B-ONLY@example.com")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    // Within A, the name is now taken; within B, A's user is invisible.
    let r = t
        .a(
            "POST",
            "/scim/v2/Users",
            Some(okta_user("shared@example.com")),
        )
        .await;
    r.assert_error(409, Some("uniqueness"));
    let r = t.b("GET", &format!("/scim/v2/Users/{a_id}"), None).await;
    r.assert_error(404, None);
    t.assert_b_untouched().await;
    assert_eq!(
        t.a("GET", "/scim/v2/Users", None).await.json["totalResults"],
        2
    );
}

#[tokio::test]
async fn tenant_a_cannot_rename_into_or_over_b() {
    let t = Two::new().await;
    let r = t
        .a(
            "POST",
            "/scim/v2/Users",
            Some(okta_user("a-user@example.com")),
        )
        .await;
    let a_uri = format!("/scim/v2/Users/{}", r.json["id"].as_str().unwrap());
    // Renaming A's user to a name B has is fine: uniqueness is per tenant.
    let rename = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "b-only@example.com"}]
    });
    let r = t.a("PATCH", &a_uri, Some(rename)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["userName"], "b-only@example.com");
    let r = t.a("DELETE", &a_uri, None).await;
    assert_eq!(r.status, 204);
    t.assert_b_untouched().await;
    let r = t
        .b("GET", &format!("/scim/v2/Users/{}", t.b_other_id), None)
        .await;
    assert_eq!(r.json["userName"], "b-only@example.com");
}
