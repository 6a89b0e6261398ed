//! The Okta user lifecycle (Okta's "SCIM 2.0 Spec Test" and CRUD test flows), through
//! `ScimServer::handle`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn okta_spec_requests_without_token_are_401_with_www_authenticate() {
    let s = server();
    let r = send_with(&s, "GET", "/scim/v2/Users", None, &[]).await;
    r.assert_error(401, None);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    for bad in [
        "Bearer wrong-key",
        "Basic dGVzdDp0ZXN0",
        "Bearer",
        "test-key-acme",
    ] {
        let r = send_with(&s, "GET", "/scim/v2/Users", None, &[("authorization", bad)]).await;
        r.assert_error(401, None);
        assert!(r.header("www-authenticate").is_some());
    }
}

#[tokio::test]
async fn okta_spec_user_name_check_before_create_returns_empty_list() {
    let s = server();
    let r = send(
        &s,
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22nobody%40example.com%22&startIndex=1&count=100",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(r.json["totalResults"], 0);
    assert_eq!(r.json["Resources"], json!([]));
    assert_eq!(r.json["startIndex"], 1);
    assert_eq!(r.json["itemsPerPage"], 0);
}

#[tokio::test]
async fn okta_spec_create_returns_201_with_location_etag_and_full_resource() {
    let s = server();
    let r = send(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(okta_user("jdoe@example.com")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let id = r.json["id"].as_str().unwrap();
    let location = format!("http://scim.example.com/scim/v2/Users/{id}");
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.json["meta"]["location"], location);
    assert_eq!(r.json["meta"]["resourceType"], "User");
    assert!(r.json["meta"]["created"].is_string() && r.json["meta"]["lastModified"].is_string());
    assert_eq!(r.header("etag"), r.json["meta"]["version"].as_str());
    assert_eq!(r.json["userName"], "jdoe@example.com");
    assert_eq!(r.json["active"], true);
    assert_eq!(r.json["name"]["givenName"], "Test");
    assert_eq!(r.json["emails"][0]["primary"], true);
    assert_eq!(r.json["externalId"], "00u16");
}

#[tokio::test]
async fn okta_spec_placeholder_password_is_never_returned_and_groups_are_ignored() {
    let s = server();
    let mut body = okta_user("pw@example.com");
    body["groups"] = json!([{"value": "g1", "display": "Everyone"}]);
    let created = create(&s, body).await;
    assert!(created.get("password").is_none());
    assert!(created.get("groups").is_none());
    let id = created["id"].as_str().unwrap();
    let got = send(&s, "GET", &format!("/scim/v2/Users/{id}"), None).await;
    assert!(got.json.get("password").is_none());
    let listed = send(&s, "GET", "/scim/v2/Users", None).await;
    assert!(listed.json["Resources"][0].get("password").is_none());
}

#[tokio::test]
async fn okta_spec_duplicate_create_is_409() {
    let s = server();
    create(&s, okta_user("dup@example.com")).await;
    for name in ["dup@example.com", "DUP@Example.COM"] {
        let r = send(&s, "POST", "/scim/v2/Users", Some(okta_user(name))).await;
        r.assert_error(409, Some("uniqueness"));
    }
    let all = send(&s, "GET", "/scim/v2/Users", None).await;
    assert_eq!(all.json["totalResults"], 1);
}

#[tokio::test]
async fn okta_spec_get_unknown_or_malformed_id_is_404() {
    let s = server();
    for id in [
        "010101001010101011001010101011",
        "00000000-0000-0000-0000-000000000000",
        "%20",
        "..%2F..%2Fetc",
    ] {
        let r = send(&s, "GET", &format!("/scim/v2/Users/{id}"), None).await;
        r.assert_error(404, None);
    }
}

#[tokio::test]
async fn okta_spec_filter_user_name_is_case_insensitive() {
    let s = server();
    let created = create(&s, okta_user("Case.Test@Example.com")).await;
    let r = send(
        &s,
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22case.test%40example.COM%22",
        None,
    )
    .await;
    assert_eq!(r.json["totalResults"], 1, "{}", r.json);
    assert_eq!(r.json["Resources"][0]["id"], created["id"]);
    assert_eq!(r.json["Resources"][0]["userName"], "Case.Test@Example.com");
}

#[tokio::test]
async fn okta_crud_get_then_full_put_updates_profile() {
    let s = server();
    let created = create(&s, okta_user("put@example.com")).await;
    let id = created["id"].as_str().unwrap();
    let mut echo = send(&s, "GET", &format!("/scim/v2/Users/{id}"), None)
        .await
        .json;
    // Okta sends the whole resource back, read-only attributes included.
    echo["name"]["givenName"] = json!("Changed");
    echo["title"] = json!("Engineer");
    echo["groups"] = json!([]);
    let r = send(&s, "PUT", &format!("/scim/v2/Users/{id}"), Some(echo)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["id"], created["id"]);
    assert_eq!(r.json["name"]["givenName"], "Changed");
    assert_eq!(r.json["title"], "Engineer");
    assert_eq!(r.json["meta"]["created"], created["meta"]["created"]);
    assert_ne!(r.json["meta"]["version"], created["meta"]["version"]);
    assert_eq!(r.header("etag"), r.json["meta"]["version"].as_str());
    let got = send(&s, "GET", &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(got.json["title"], "Engineer");
}

#[tokio::test]
async fn okta_put_without_active_does_not_deactivate() {
    let s = server();
    let created = create(&s, okta_user("keep@example.com")).await;
    let id = created["id"].as_str().unwrap();
    let r = send(
        &s,
        "PUT",
        &format!("/scim/v2/Users/{id}"),
        Some(json!({"userName": "keep@example.com", "displayName": "Kept"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["active"], true);
    assert_eq!(r.json["displayName"], "Kept");
    // PUT replaces the other writable attributes.
    assert!(r.json.get("emails").is_none());
}

#[tokio::test]
async fn okta_deactivate_by_put_keeps_user_visible_to_get_and_filter() {
    let s = server();
    let created = create(&s, okta_user("deact@example.com")).await;
    let id = created["id"].as_str().unwrap();
    let mut body = created.clone();
    body["active"] = json!(false);
    let r = send(&s, "PUT", &format!("/scim/v2/Users/{id}"), Some(body)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["active"], false);
    let got = send(&s, "GET", &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json["active"], false);
    let found = send(
        &s,
        "GET",
        "/scim/v2/Users?filter=userName+eq+%22deact@example.com%22",
        None,
    )
    .await;
    assert_eq!(found.json["totalResults"], 1);
    assert_eq!(found.json["Resources"][0]["active"], false);
    let all = send(&s, "GET", "/scim/v2/Users", None).await;
    assert_eq!(all.json["totalResults"], 1);
}

#[tokio::test]
async fn okta_reactivate_by_put_active_true() {
    let s = server();
    let mut body = okta_user("react@example.com");
    body["active"] = json!(false);
    let created = create(&s, body).await;
    assert_eq!(created["active"], false);
    let id = created["id"].as_str().unwrap();
    let mut body = created.clone();
    body["active"] = json!(true);
    let r = send(&s, "PUT", &format!("/scim/v2/Users/{id}"), Some(body)).await;
    assert_eq!(r.json["active"], true);
}

#[tokio::test]
async fn okta_import_pages_with_start_index_and_count() {
    let s = server();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create(&s, okta_user(&format!("user{i}@example.com"))).await["id"].clone());
    }
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let r = send(
            &s,
            "GET",
            &format!("/scim/v2/Users?startIndex={start}&count=2"),
            None,
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json["totalResults"], 5,
            "totalResults counts before paging"
        );
        assert_eq!(r.json["startIndex"], start);
        let page = r.json["Resources"].as_array().unwrap();
        assert_eq!(r.json["itemsPerPage"], page.len());
        seen.extend(page.iter().map(|u| u["id"].clone()));
    }
    assert_eq!(
        seen, ids,
        "pages are in a stable order, with no gaps or repeats"
    );
    let past = send(&s, "GET", "/scim/v2/Users?startIndex=50&count=2", None).await;
    assert_eq!(past.json["totalResults"], 5);
    assert_eq!(past.json["itemsPerPage"], 0);
    assert_eq!(past.json["Resources"], json!([]));
    let zero = send(&s, "GET", "/scim/v2/Users?count=0", None).await;
    assert_eq!(zero.json["totalResults"], 5);
    assert_eq!(zero.json["Resources"], json!([]));
    let low = send(&s, "GET", "/scim/v2/Users?startIndex=0&count=1", None).await;
    assert_eq!(low.json["startIndex"], 1);
    assert_eq!(low.json["Resources"][0]["id"], ids[0]);
}

#[tokio::test]
async fn okta_delete_is_204_then_404() {
    let s = server();
    let created = create(&s, okta_user("del@example.com")).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let r = send(&s, "DELETE", &uri, None).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.json, serde_json::Value::Null);
    send(&s, "GET", &uri, None).await.assert_error(404, None);
    send(&s, "DELETE", &uri, None).await.assert_error(404, None);
    // the userName is free again
    create(&s, okta_user("del@example.com")).await;
}

#[tokio::test]
async fn okta_rename_to_taken_user_name_is_409_and_changes_nothing() {
    let s = server();
    create(&s, okta_user("taken@example.com")).await;
    let b = create(&s, okta_user("other@example.com")).await;
    let uri = format!("/scim/v2/Users/{}", b["id"].as_str().unwrap());
    let mut body = b.clone();
    body["userName"] = json!("TAKEN@example.com");
    send(&s, "PUT", &uri, Some(body))
        .await
        .assert_error(409, Some("uniqueness"));
    let got = send(&s, "GET", &uri, None).await;
    assert_eq!(got.json["userName"], "other@example.com");
    assert_eq!(got.json["meta"]["version"], b["meta"]["version"]);
}
