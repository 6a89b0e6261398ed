//! Microsoft Entra ID provisioning behaviours, through `ScimServer::handle`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn entra_test_connection_filter_with_random_user_name_returns_empty_list() {
    let s = server();
    // Entra's "Test Connection" queries a random GUID-looking userName.
    let r = send(
        &s,
        "GET",
        "/scim/v2/Users?filter=userName+eq+%22d0d5e1a4-1f09-4dd0-bbd6-7a1b3d1c9a2e%22",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["totalResults"], 0);
}

#[tokio::test]
async fn entra_plus_encoded_filter_spaces_are_decoded() {
    let s = server();
    create(&s, json!({"userName": "Test_User_ab6490ee@contoso.com"})).await;
    let r = send(
        &s,
        "GET",
        "/scim/v2/Users?filter=userName+eq+%22Test_User_ab6490ee%40contoso.com%22",
        None,
    )
    .await;
    assert_eq!(r.json["totalResults"], 1, "{}", r.json);
}

#[tokio::test]
async fn entra_external_id_eq_filter_is_case_exact() {
    let s = server();
    create(
        &s,
        json!({"userName": "a@contoso.com", "externalId": "Ext-1"}),
    )
    .await;
    create(
        &s,
        json!({"userName": "b@contoso.com", "externalId": "ext-1"}),
    )
    .await;
    let r = send(
        &s,
        "GET",
        "/scim/v2/Users?filter=externalId%20eq%20%22Ext-1%22",
        None,
    )
    .await;
    assert_eq!(r.json["totalResults"], 1, "{}", r.json);
    assert_eq!(r.json["Resources"][0]["userName"], "a@contoso.com");
}

#[tokio::test]
async fn entra_unknown_query_parameter_aadoptscim062020_is_ignored() {
    let s = server();
    create(&s, json!({"userName": "flag@contoso.com"})).await;
    let r = send(
        &s,
        "GET",
        "/scim/v2/Users?aadOptscim062020&filter=userName+eq+%22flag%40contoso.com%22",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["totalResults"], 1);
}

#[tokio::test]
async fn entra_string_boolean_active_in_post_and_put() {
    let s = server();
    let created = create(&s, json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@contoso.com",
        "active": "True",
        "displayName": "BobIsAmazing",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@contoso.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Dept", "manager": "ManagerId"}
    })).await;
    assert_eq!(created["active"], true, "strict boolean on output");
    assert_eq!(
        created["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"],
        json!({"value": "ManagerId"})
    );
    assert_eq!(
        created["schemas"][1],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    let id = created["id"].as_str().unwrap();
    let mut body = created.clone();
    body["active"] = json!("False");
    let r = send(&s, "PUT", &format!("/scim/v2/Users/{id}"), Some(body)).await;
    assert_eq!(r.json["active"], false);
}

#[tokio::test]
async fn entra_groups_endpoint_answers_empty_list_for_connection_test() {
    let s = server();
    let r = send(
        &s,
        "GET",
        "/scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22x%22",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["totalResults"], 0);
    assert_eq!(r.json["Resources"], json!([]));
}
