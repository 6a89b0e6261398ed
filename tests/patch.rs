//! PATCH through `ScimServer::handle`: Entra ID's and Okta's shapes, all-or-nothing,
//! ETags and concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn ops(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn entra_user(s: &scimkit::ScimServer) -> (Value, String) {
    let created = create(s, json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "userName": "Test_User_dfeef4c5@contoso.com",
        "active": true,
        "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_22370c1a@contoso.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        ENTERPRISE: {"department": "Sales", "manager": {"value": "mgr-1"}}
    })).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    (created, uri)
}

#[tokio::test]
async fn entra_default_mode_patch_updates_email_name_and_active() {
    let s = server();
    let (created, uri) = entra_user(&s).await;
    let r = send(&s, "PATCH", &uri, Some(ops(json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Replace", "path": "active", "value": "False"}
    ])))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(r.json["emails"][0]["primary"], true);
    assert_eq!(r.json["name"]["familyName"], "updatedFamilyName");
    assert_eq!(r.json["name"]["givenName"], "givenName");
    assert_eq!(r.json["active"], false, "strict boolean on output");
    assert_eq!(r.header("etag"), r.json["meta"]["version"].as_str());
    assert_ne!(r.json["meta"]["version"], created["meta"]["version"]);
    let got = send(&s, "GET", &uri, None).await;
    assert_eq!(got.json, r.json);
}

#[tokio::test]
async fn entra_aadoptscim062020_pathless_add_with_dotted_and_urn_keys() {
    let s = server();
    let (_, uri) = entra_user(&s).await;
    let r = send(
        &s,
        "PATCH",
        &format!("{uri}?aadOptscim062020"),
        Some(ops(json!([
            {"op": "add", "value": {
                "displayName": "New Display",
                "name.givenName": "NewGiven",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1234",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "mgr-2"
            }}
        ]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["displayName"], "New Display");
    assert_eq!(r.json["name"]["givenName"], "NewGiven");
    assert_eq!(r.json["name"]["familyName"], "familyName");
    assert_eq!(r.json[ENTERPRISE]["employeeNumber"], "1234");
    assert_eq!(r.json[ENTERPRISE]["manager"], json!({"value": "mgr-2"}));
    assert!(r.json.get("name.givenName").is_none());
    assert!(
        r.json
            .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
            .is_none()
    );
}

#[tokio::test]
async fn entra_manager_remove_with_value() {
    let s = server();
    let (_, uri) = entra_user(&s).await;
    let r = send(&s, "PATCH", &uri, Some(ops(json!([
        {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": [{"value": "mgr-1"}]}
    ])))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json[ENTERPRISE].get("manager").is_none());
    assert_eq!(r.json[ENTERPRISE]["department"], "Sales");
}

#[tokio::test]
async fn entra_add_on_unmatched_value_path_creates_the_element() {
    let s = server();
    let (_, uri) = entra_user(&s).await;
    let r = send(&s, "PATCH", &uri, Some(ops(json!([
        {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Microsoft Way"},
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 425 555 0100"}
    ])))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["addresses"],
        json!([{"streetAddress": "1 Microsoft Way", "type": "work"}])
    );
    assert_eq!(
        r.json["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 425 555 0100"}])
    );
}

#[tokio::test]
async fn entra_disable_then_delete() {
    let s = server();
    let (_, uri) = entra_user(&s).await;
    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(ops(
            json!([{"op": "Replace", "path": "active", "value": false}]),
        )),
    )
    .await;
    assert_eq!(r.json["active"], false);
    let found = send(
        &s,
        "GET",
        "/scim/v2/Users?filter=externalId+eq+%228aa1a0c0-c4c3-4bc0-b4a5-2ef676900159%22",
        None,
    )
    .await;
    assert_eq!(
        found.json["Resources"][0]["active"], false,
        "disabled users stay visible"
    );
    assert_eq!(send(&s, "DELETE", &uri, None).await.status, 204);
    send(
        &s,
        "PATCH",
        &uri,
        Some(ops(
            json!([{"op": "Replace", "path": "active", "value": true}]),
        )),
    )
    .await
    .assert_error(404, None);
}

#[tokio::test]
async fn okta_pathless_patch_deactivates_and_reactivates() {
    let s = server();
    let created = create(&s, okta_user("okta.patch@example.com")).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(ops(json!([{"op": "replace", "value": {"active": false}}]))),
    )
    .await;
    assert_eq!((r.status, &r.json["active"]), (200, &json!(false)));
    assert_eq!(r.json["emails"], created["emails"], "nothing else changes");
    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(ops(json!([{"op": "replace", "value": {"active": true}}]))),
    )
    .await;
    assert_eq!(r.json["active"], true);
}

#[tokio::test]
async fn patch_is_all_or_nothing() {
    let s = server();
    let (created, uri) = entra_user(&s).await;
    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(ops(json!([
            {"op": "replace", "path": "displayName", "value": "changed"},
            {"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}
        ]))),
    )
    .await;
    r.assert_error(400, Some("mutability"));
    let got = send(&s, "GET", &uri, None).await;
    assert_eq!(got.json, created, "the stored user is untouched");
}

#[tokio::test]
async fn patch_errors_are_scim_errors_with_the_right_type() {
    let s = server();
    let (_, uri) = entra_user(&s).await;
    let cases = [
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "remove", "path": "userName"}]), "mutability"),
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": 42}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq ]", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "frobnicate", "path": "title", "value": "x"}]),
            "invalidSyntax",
        ),
    ];
    for (o, t) in cases {
        send(&s, "PATCH", &uri, Some(ops(o.clone())))
            .await
            .assert_error(400, Some(t));
    }
    let auth = format!("Bearer {KEY}");
    send_raw(
        &s,
        "PATCH",
        &uri,
        b"{\"Operations\": [",
        &[
            ("authorization", &auth),
            ("content-type", "application/scim+json"),
        ],
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn patch_renaming_to_a_taken_user_name_is_409() {
    let s = server();
    create(&s, json!({"userName": "taken@contoso.com"})).await;
    let (_, uri) = entra_user(&s).await;
    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(ops(
            json!([{"op": "replace", "path": "userName", "value": "TAKEN@contoso.com"}]),
        )),
    )
    .await;
    r.assert_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn patch_with_stale_if_match_is_412_and_current_if_match_applies() {
    let s = server();
    let (created, uri) = entra_user(&s).await;
    let auth = format!("Bearer {KEY}");
    let body = Some(ops(
        json!([{"op": "replace", "path": "title", "value": "x"}]),
    ));
    let r = send_with(
        &s,
        "PATCH",
        &uri,
        body.clone(),
        &[("authorization", &auth), ("if-match", "W/\"999999\"")],
    )
    .await;
    r.assert_error(412, None);
    let v = created["meta"]["version"].as_str().unwrap();
    let r = send_with(
        &s,
        "PATCH",
        &uri,
        body,
        &[("authorization", &auth), ("if-match", v)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["title"], "x");
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_the_version() {
    let s = server();
    let (created, uri) = entra_user(&s).await;
    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(ops(
            json!([{"op": "replace", "path": "displayName", "value": "Test User"}]),
        )),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["meta"]["version"], created["meta"]["version"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_patches_adding_emails_lose_none() {
    let s = server();
    let created = create(&s, json!({"userName": "concurrent@example.com"})).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (s, uri) = (s.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            let body = ops(json!([{"op": "add", "path": "emails", "value": [{"value": format!("e{i}@example.com"), "type": "other"}]}]));
            send(&s, "PATCH", &uri, Some(body)).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let got = send(&s, "GET", &uri, None).await;
    let emails = got.json["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 50, "every concurrent add survives");
}
