//! The Group resource over HTTP (`ScimServer::handle`), on the memory stores: every
//! PATCH form Okta, Entra ID and JumpCloud send, uniqueness, filters, paging, projection,
//! ETags, tenancy, and what a server without groups answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{KEY, OTHER_TENANT_KEY, okta_user, send, send_with, server, server_with_groups};
use scimkit::ScimServer;
use serde_json::{Value, json};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn user(server: &ScimServer, name: &str) -> String {
    let r = send(server, "POST", "/scim/v2/Users", Some(okta_user(name))).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_str().unwrap().to_owned()
}

async fn users(server: &ScimServer, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(user(server, &format!("member{i}@example.com")).await);
    }
    ids
}

async fn group(server: &ScimServer, name: &str, members: &[String]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let r = send(
        server,
        "POST",
        "/scim/v2/Groups",
        Some(json!({"schemas": [GROUP], "displayName": name, "members": members})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_str().unwrap().to_owned()
}

async fn patch(server: &ScimServer, id: &str, ops: Value) -> common::Reply {
    send(
        server,
        "PATCH",
        &format!("/scim/v2/Groups/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": ops})),
    )
    .await
}

/// The member ids of a group, sorted.
async fn member_ids(server: &ScimServer, id: &str) -> Vec<String> {
    let r = send(server, "GET", &format!("/scim/v2/Groups/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let mut ids: Vec<String> = r.json["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut v = ids.to_vec();
    v.sort();
    v
}

#[tokio::test]
async fn a_created_group_is_returned_with_its_members_location_and_etag() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let r = send(
        &s,
        "POST",
        "/scim/v2/Groups",
        Some(
            json!({"schemas": [GROUP], "displayName": "Engineering", "externalId": "okta-00g1",
            "members": [{"value": ids[0], "display": "ignored"}, {"value": ids[1], "$ref": null}]}),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_str().unwrap();
    assert_eq!(r.json["schemas"], json!([GROUP]));
    assert_eq!(r.json["displayName"], "Engineering");
    assert_eq!(r.json["externalId"], "okta-00g1");
    assert_eq!(r.json["meta"]["resourceType"], "Group");
    let location = format!("http://scim.example.com/scim/v2/Groups/{id}");
    assert_eq!(r.json["meta"]["location"], location.as_str());
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.header("etag"), r.json["meta"]["version"].as_str());
    let members = r.json["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    for m in members {
        assert_eq!(m["type"], "User");
        let url = format!(
            "http://scim.example.com/scim/v2/Users/{}",
            m["value"].as_str().unwrap()
        );
        assert_eq!(m["$ref"], url.as_str());
        assert!(
            m.get("display").is_none(),
            "display is no Group member attribute: {m}"
        );
    }
    assert_eq!(member_ids(&s, id).await, sorted(&ids));
}

#[tokio::test]
async fn okta_adds_members_with_path_members() {
    let s = server_with_groups();
    let ids = users(&s, 3).await;
    let g = group(&s, "Okta group", &ids[..1]).await;
    let r = patch(
        &s,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": ids[1], "display": "x"}, {"value": ids[2]}]}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert_eq!(member_ids(&s, &g).await, sorted(&ids));
}

#[tokio::test]
async fn okta_removes_a_member_by_value_filter() {
    let s = server_with_groups();
    let ids = users(&s, 3).await;
    let g = group(&s, "Okta group", &ids).await;
    let path = format!("members[value eq \"{}\"]", ids[1]);
    let r = patch(&s, &g, json!([{"op": "remove", "path": path}])).await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert_eq!(
        member_ids(&s, &g).await,
        sorted(&[ids[0].clone(), ids[2].clone()])
    );
}

#[tokio::test]
async fn entra_removes_only_the_listed_members_with_path_members() {
    let s = server_with_groups();
    let ids = users(&s, 3).await;
    let g = group(&s, "Entra group", &ids).await;
    let r = patch(
        &s,
        &g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": ids[0]}]}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    // Never the whole group: the listed member only.
    assert_eq!(member_ids(&s, &g).await, sorted(&ids[1..]));
}

#[tokio::test]
async fn remove_members_without_a_value_empties_the_group() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "To empty", &ids).await;
    assert_eq!(
        patch(&s, &g, json!([{"op": "remove", "path": "members"}]))
            .await
            .status,
        204
    );
    assert!(member_ids(&s, &g).await.is_empty());
}

#[tokio::test]
async fn replace_members_with_an_empty_list_empties_the_group() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "To empty", &ids).await;
    let r = patch(
        &s,
        &g,
        json!([{"op": "replace", "path": "members", "value": []}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert!(member_ids(&s, &g).await.is_empty());
    // And the path-less form.
    let g2 = group(&s, "To empty too", &ids).await;
    let r = patch(
        &s,
        &g2,
        json!([{"op": "replace", "value": {"members": []}}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert!(member_ids(&s, &g2).await.is_empty());
}

#[tokio::test]
async fn replace_members_sets_the_whole_list() {
    let s = server_with_groups();
    let ids = users(&s, 4).await;
    let g = group(&s, "Replaced", &ids[..2]).await;
    let r = patch(
        &s,
        &g,
        json!([{"op": "replace", "path": "members", "value": [{"value": ids[1]}, {"value": ids[3]}]}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert_eq!(
        member_ids(&s, &g).await,
        sorted(&[ids[1].clone(), ids[3].clone()])
    );
}

#[tokio::test]
async fn a_replace_that_does_not_name_members_leaves_membership_alone() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "Before", &ids).await;
    let r = patch(
        &s,
        &g,
        json!([{"op": "replace", "path": "displayName", "value": "After"}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let got = send(&s, "GET", &format!("/scim/v2/Groups/{g}"), None).await;
    assert_eq!(got.json["displayName"], "After");
    assert_eq!(member_ids(&s, &g).await, sorted(&ids));
}

#[tokio::test]
async fn okta_renames_with_a_pathless_replace_carrying_the_id() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "Old name", &ids[..1]).await;
    // Okta sends the rename and the membership changes in one message.
    let r = patch(
        &s,
        &g,
        json!([
            {"op": "replace", "value": {"id": g, "displayName": "New name"}},
            {"op": "add", "path": "members", "value": [{"value": ids[1]}]}
        ]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let got = send(&s, "GET", &format!("/scim/v2/Groups/{g}"), None).await;
    assert_eq!(got.json["displayName"], "New name");
    assert_eq!(member_ids(&s, &g).await, sorted(&ids));
    // Another id is an attempt to change a read-only attribute.
    let r = patch(
        &s,
        &g,
        json!([{"op": "replace", "value": {"id": "other", "displayName": "X"}}]),
    )
    .await;
    r.assert_error(400, Some("mutability"));
}

#[tokio::test]
async fn adding_an_existing_member_and_removing_an_absent_one_are_no_ops() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "Idempotent", &ids[..1]).await;
    let r = patch(
        &s,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": ids[0]}]}]),
    )
    .await;
    assert_eq!(r.status, 204);
    let path = format!("members[value eq \"{}\"]", ids[1]);
    let r = patch(&s, &g, json!([{"op": "remove", "path": path}])).await;
    assert_eq!(r.status, 204);
    assert_eq!(member_ids(&s, &g).await, vec![ids[0].clone()]);
}

#[tokio::test]
async fn unknown_member_ids_are_skipped() {
    let s = server_with_groups();
    let ids = users(&s, 1).await;
    let g = group(&s, "Skips", &[ids[0].clone(), "no-such-user".into()]).await;
    assert_eq!(member_ids(&s, &g).await, vec![ids[0].clone()]);
    let r = patch(
        &s,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": "gone"}]}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert_eq!(member_ids(&s, &g).await, vec![ids[0].clone()]);
}

#[tokio::test]
async fn members_are_users_of_the_same_tenant_only() {
    let s = server_with_groups();
    let other = send_with(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(okta_user("globex@example.com")),
        &[("authorization", &format!("Bearer {OTHER_TENANT_KEY}"))],
    )
    .await;
    let foreign = other.json["id"].as_str().unwrap().to_owned();
    let g = group(&s, "Acme only", &[foreign]).await;
    assert!(member_ids(&s, &g).await.is_empty());
    // And the other tenant does not see the group.
    let r = send_with(
        &s,
        "GET",
        &format!("/scim/v2/Groups/{g}"),
        None,
        &[("authorization", &format!("Bearer {OTHER_TENANT_KEY}"))],
    )
    .await;
    r.assert_error(404, None);
}

#[tokio::test]
async fn display_name_is_unique_per_tenant_case_insensitively() {
    let s = server_with_groups();
    group(&s, "Sales", &[]).await;
    let r = send(
        &s,
        "POST",
        "/scim/v2/Groups",
        Some(json!({"displayName": "SALES"})),
    )
    .await;
    r.assert_error(409, Some("uniqueness"));
    let other = group(&s, "Marketing", &[]).await;
    let r = patch(
        &s,
        &other,
        json!([{"op": "replace", "path": "displayName", "value": "sales"}]),
    )
    .await;
    r.assert_error(409, Some("uniqueness"));
    // Another tenant may use the name.
    let r = send_with(
        &s,
        "POST",
        "/scim/v2/Groups",
        Some(json!({"displayName": "Sales"})),
        &[("authorization", &format!("Bearer {OTHER_TENANT_KEY}"))],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
}

#[tokio::test]
async fn groups_filter_by_display_name_case_insensitively_with_escaped_quotes() {
    let s = server_with_groups();
    group(&s, "R&D \"core\"", &[]).await;
    group(&s, "Other", &[]).await;
    let r = send(
        &s,
        "GET",
        "/scim/v2/Groups?filter=displayName%20eq%20%22r%26d%20%5C%22CORE%5C%22%22",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["totalResults"], 1);
    assert_eq!(r.json["Resources"][0]["displayName"], "R&D \"core\"");
}

#[tokio::test]
async fn groups_filter_by_external_id_and_member() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let a = group(&s, "A", &ids[..1]).await;
    let b = group(&s, "B", &ids).await;
    let r = send(
        &s,
        "PATCH",
        &format!("/scim/v2/Groups/{a}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "externalId", "value": "ext-a"}]})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let list = |filter: String| {
        let s = s.clone();
        async move {
            let uri = format!("/scim/v2/Groups?filter={}", urlencode(&filter));
            let r = send(&s, "GET", &uri, None).await;
            assert_eq!(r.status, 200, "{filter}: {}", r.json);
            let mut ids: Vec<String> = r.json["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        list("externalId eq \"ext-a\"".into()).await,
        vec![a.clone()]
    );
    assert!(list("externalId eq \"EXT-A\"".into()).await.is_empty());
    assert_eq!(
        list(format!("members[value eq \"{}\"]", ids[1])).await,
        vec![b.clone()]
    );
    assert_eq!(
        list(format!("members eq \"{}\"", ids[1])).await,
        vec![b.clone()]
    );
    assert_eq!(
        list(format!("members.value eq \"{}\"", ids[0])).await,
        sorted(&[a.clone(), b.clone()])
    );
    assert_eq!(
        list(format!(
            "id eq \"{b}\" and members[value eq \"{}\"]",
            ids[0]
        ))
        .await,
        vec![b.clone()]
    );
    assert!(
        list(format!(
            "id eq \"{a}\" and members[value eq \"{}\"]",
            ids[1]
        ))
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn a_filter_groups_cannot_serve_is_invalid_filter_never_the_whole_list() {
    let s = server_with_groups();
    group(&s, "Anything", &[]).await;
    for filter in [
        "displayName co \"Any\"",
        "meta.lastModified gt \"2020-01-01T00:00:00Z\"",
        "userName eq \"x\"",
    ] {
        let uri = format!("/scim/v2/Groups?filter={}", urlencode(filter));
        send(&s, "GET", &uri, None)
            .await
            .assert_error(400, Some("invalidFilter"));
    }
}

#[tokio::test]
async fn groups_page_in_a_stable_order_with_exact_totals() {
    let s = server_with_groups();
    for i in 0..7 {
        group(&s, &format!("g{i}"), &[]).await;
    }
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let r = send(
            &s,
            "GET",
            &format!("/scim/v2/Groups?startIndex={start}&count=3"),
            None,
        )
        .await;
        assert_eq!(r.json["totalResults"], 7);
        assert_eq!(r.json["startIndex"], start);
        for g in r.json["Resources"].as_array().unwrap() {
            seen.push(g["displayName"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("g{i}")).collect::<Vec<_>>());
    let r = send(
        &s,
        "POST",
        "/scim/v2/Groups/.search",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "displayName eq \"g3\"", "startIndex": 1, "count": 10}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["totalResults"], 1);
}

#[tokio::test]
async fn excluded_members_are_not_read_or_written() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "Big", &ids).await;
    let r = send(
        &s,
        "GET",
        &format!("/scim/v2/Groups/{g}?excludedAttributes=members"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.json.get("members").is_none(), "{}", r.json);
    assert_eq!(r.json["displayName"], "Big");
    let r = send(
        &s,
        "GET",
        "/scim/v2/Groups?excludedAttributes=members",
        None,
    )
    .await;
    assert!(
        r.json["Resources"][0].get("members").is_none(),
        "{}",
        r.json
    );
    let r = send(
        &s,
        "GET",
        &format!("/scim/v2/Groups/{g}?attributes=displayName"),
        None,
    )
    .await;
    assert_eq!(r.json["id"], g.as_str());
    assert!(
        r.json.get("members").is_none() && r.json.get("meta").is_none(),
        "{}",
        r.json
    );
}

#[tokio::test]
async fn patch_answers_204_unless_the_host_or_the_client_asks_for_the_group() {
    let s = server_with_groups();
    let ids = users(&s, 1).await;
    let g = group(&s, "Answer", &ids).await;
    let r = patch(
        &s,
        &g,
        json!([{"op": "replace", "path": "displayName", "value": "Answered"}]),
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.json, Value::Null);
    let r = send(
        &s,
        "PATCH",
        &format!("/scim/v2/Groups/{g}?attributes=displayName"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Asked"}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["displayName"], "Asked");
    assert!(r.json.get("members").is_none());
}

#[tokio::test]
async fn if_match_on_groups_is_checked_like_users() {
    let s = server_with_groups();
    let g = group(&s, "Versioned", &[]).await;
    let got = send(&s, "GET", &format!("/scim/v2/Groups/{g}"), None).await;
    let etag = got.header("etag").unwrap().to_owned();
    let body = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "V2"}]});
    let auth = format!("Bearer {KEY}");
    let ok = send_with(
        &s,
        "PATCH",
        &format!("/scim/v2/Groups/{g}"),
        Some(body.clone()),
        &[("authorization", &auth), ("if-match", &etag)],
    )
    .await;
    assert_eq!(ok.status, 204, "{}", ok.json);
    let stale = send_with(
        &s,
        "PATCH",
        &format!("/scim/v2/Groups/{g}"),
        Some(body),
        &[("authorization", &auth), ("if-match", &etag)],
    )
    .await;
    stale.assert_error(412, None);
    let fresh = send(&s, "GET", &format!("/scim/v2/Groups/{g}"), None).await;
    let not_modified = send_with(
        &s,
        "GET",
        &format!("/scim/v2/Groups/{g}"),
        None,
        &[
            ("authorization", &auth),
            ("if-none-match", fresh.header("etag").unwrap()),
        ],
    )
    .await;
    assert_eq!(not_modified.status, 304);
    let del = send_with(
        &s,
        "DELETE",
        &format!("/scim/v2/Groups/{g}"),
        None,
        &[("authorization", &auth), ("if-match", &etag)],
    )
    .await;
    del.assert_error(412, None);
}

#[tokio::test]
async fn a_replaced_group_has_exactly_the_members_sent() {
    let s = server_with_groups();
    let ids = users(&s, 3).await;
    let g = group(&s, "Put", &ids[..2]).await;
    let r = send(
        &s,
        "PUT",
        &format!("/scim/v2/Groups/{g}"),
        Some(
            json!({"schemas": [GROUP], "displayName": "Put again", "members": [{"value": ids[2]}]}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["displayName"], "Put again");
    assert_eq!(member_ids(&s, &g).await, vec![ids[2].clone()]);
}

#[tokio::test]
async fn deleting_a_user_removes_its_memberships_and_deleting_a_group_its_rows() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "Leavers", &ids).await;
    let r = send(&s, "DELETE", &format!("/scim/v2/Users/{}", ids[0]), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(member_ids(&s, &g).await, vec![ids[1].clone()]);
    let filter = urlencode(&format!("members[value eq \"{}\"]", ids[0]));
    let r = send(&s, "GET", &format!("/scim/v2/Groups?filter={filter}"), None).await;
    assert_eq!(r.json["totalResults"], 0, "{}", r.json);
    assert_eq!(
        send(&s, "DELETE", &format!("/scim/v2/Groups/{g}"), None)
            .await
            .status,
        204
    );
    send(&s, "GET", &format!("/scim/v2/Groups/{g}"), None)
        .await
        .assert_error(404, None);
    // The name is free again.
    group(&s, "Leavers", &[]).await;
}

#[tokio::test]
async fn bad_group_bodies_are_scim_errors() {
    let s = server_with_groups();
    let g = group(&s, "Valid", &[]).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"schemas": [GROUP]}), "invalidValue"),
        (json!({"displayName": 5}), "invalidValue"),
        (
            json!({"displayName": "x", "members": [{"display": "no value"}]}),
            "invalidValue",
        ),
        (
            json!({"displayName": "x", "members": "nope"}),
            "invalidValue",
        ),
        (
            json!({"displayName": "x", "DisplayName": "y"}),
            "invalidSyntax",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "x"}),
            "invalidSyntax",
        ),
        (json!([1, 2]), "invalidSyntax"),
    ];
    for (body, scim_type) in cases {
        send(&s, "POST", "/scim/v2/Groups", Some(body.clone()))
            .await
            .assert_error(400, Some(scim_type));
        send(&s, "PUT", &format!("/scim/v2/Groups/{g}"), Some(body))
            .await
            .assert_error(400, Some(scim_type));
    }
    let bad_patches: Vec<(Value, &str)> = vec![
        (
            json!([{"op": "remove", "path": "displayName"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "nickName", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "add", "path": "members[value eq \"x\"]", "value": [{"value": "x"}]}]),
            "invalidPath",
        ),
        (
            json!([{"op": "remove", "path": "members[display eq \"x\"]"}]),
            "invalidFilter",
        ),
        (json!([{"op": "add", "path": "members"}]), "invalidValue"),
        (json!([{"op": "remove"}]), "noTarget"),
    ];
    for (ops, scim_type) in bad_patches {
        patch(&s, &g, ops).await.assert_error(400, Some(scim_type));
    }
    // Nothing was written by any of them.
    let got = send(&s, "GET", &format!("/scim/v2/Groups/{g}"), None).await;
    assert_eq!(got.json["displayName"], "Valid");
}

#[tokio::test]
async fn a_write_naming_too_many_members_is_refused_before_the_store() {
    let s = server_with_groups();
    let g = group(&s, "Capped", &[]).await;
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"value": format!("u{i}")}))
        .collect();
    let r = patch(
        &s,
        &g,
        json!([{"op": "add", "path": "members", "value": many}]),
    )
    .await;
    r.assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn a_patch_of_a_thousand_members_is_accepted() {
    let s = server_with_groups();
    let ids = users(&s, 1000).await;
    let g = group(&s, "Thousand", &[]).await;
    let add: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
    let r = patch(
        &s,
        &g,
        json!([{"op": "add", "path": "members", "value": add}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert_eq!(member_ids(&s, &g).await.len(), 1000);
    let remove: Vec<Value> = ids[..500].iter().map(|i| json!({"value": i})).collect();
    let r = patch(
        &s,
        &g,
        json!([{"op": "remove", "path": "members", "value": remove}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    assert_eq!(member_ids(&s, &g).await, sorted(&ids[500..]));
}

#[tokio::test]
async fn parallel_membership_patches_lose_nothing() {
    let s = server_with_groups();
    let ids = users(&s, 64).await;
    let g = group(&s, "Contended", &[]).await;
    let mut tasks = Vec::new();
    for chunk in ids.chunks(4) {
        let s = s.clone();
        let g = g.clone();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for id in chunk {
                let r = patch(
                    &s,
                    &g,
                    json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
                )
                .await;
                assert_eq!(r.status, 204, "{}", r.json);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(member_ids(&s, &g).await, sorted(&ids));
}

#[tokio::test]
async fn discovery_advertises_groups_only_when_served() {
    let with = server_with_groups();
    let r = send(&with, "GET", "/scim/v2/ResourceTypes", None).await;
    let names: Vec<&str> = r.json["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["User", "Group"]);
    let r = send(&with, "GET", "/scim/v2/ResourceTypes/Group", None).await;
    assert_eq!(r.json["endpoint"], "/Groups");
    let r = send(&with, "GET", &format!("/scim/v2/Schemas/{GROUP}"), None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["attributes"][0]["name"], "displayName");
    let without = server();
    let r = send(&without, "GET", "/scim/v2/ResourceTypes", None).await;
    assert_eq!(r.json["totalResults"], 1);
    send(&without, "GET", &format!("/scim/v2/Schemas/{GROUP}"), None)
        .await
        .assert_error(404, None);
    send(&without, "GET", "/scim/v2/ResourceTypes/Group", None)
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn without_a_group_store_groups_list_empty_and_writes_are_501() {
    let s = server();
    let r = send(&s, "GET", "/scim/v2/Groups", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["totalResults"], 0);
    send(
        &s,
        "POST",
        "/scim/v2/Groups",
        Some(json!({"displayName": "x"})),
    )
    .await
    .assert_error(501, None);
    send(
        &s,
        "PATCH",
        "/scim/v2/Groups/abc",
        Some(json!({"schemas": [PATCH], "Operations": []})),
    )
    .await
    .assert_error(501, None);
    send(&s, "GET", "/scim/v2/Groups/abc", None)
        .await
        .assert_error(404, None);
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[tokio::test]
async fn a_root_search_lists_users_then_groups() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "Searched", &ids).await;
    let search = |body: Value| {
        let s = s.clone();
        async move {
            let r = send(&s, "POST", "/scim/v2/.search", Some(body)).await;
            assert_eq!(r.status, 200, "{}", r.json);
            r.json
        }
    };
    let all = search(json!({"startIndex": 1, "count": 10})).await;
    assert_eq!(all["totalResults"], 3);
    assert_eq!(all["Resources"][2]["id"], g.as_str());
    // Paged as one list: the second page of two holds the group.
    let second = search(json!({"startIndex": 3, "count": 2})).await;
    assert_eq!(second["totalResults"], 3);
    assert_eq!(second["Resources"].as_array().unwrap().len(), 1);
    assert_eq!(second["Resources"][0]["schemas"][0], GROUP);
    let by_id =
        search(json!({"filter": format!("id eq \"{g}\""), "attributes": ["displayName"]})).await;
    assert_eq!(by_id["totalResults"], 1);
    assert_eq!(by_id["Resources"][0]["displayName"], "Searched");
    // A filter no group can match lists users only.
    let users_only = search(json!({"filter": "userName sw \"member\""})).await;
    assert_eq!(users_only["totalResults"], 2);
}

#[tokio::test]
async fn user_groups_are_derived_from_memberships_and_excludable() {
    let s = server_with_groups();
    let ids = users(&s, 2).await;
    let g = group(&s, "Derived", &ids[..1]).await;
    let r = send(&s, "GET", &format!("/scim/v2/Users/{}", ids[0]), None).await;
    assert_eq!(r.json["groups"][0]["value"], g.as_str(), "{}", r.json);
    assert_eq!(r.json["groups"][0]["display"], "Derived");
    let url = format!("http://scim.example.com/scim/v2/Groups/{g}");
    assert_eq!(r.json["groups"][0]["$ref"], url.as_str());
    let r = send(&s, "GET", &format!("/scim/v2/Users/{}", ids[1]), None).await;
    assert!(r.json.get("groups").is_none(), "{}", r.json);
    // In lists too, and excludable.
    let r = send(
        &s,
        "GET",
        "/scim/v2/Users?filter=userName+eq+%22member0%40example.com%22",
        None,
    )
    .await;
    assert_eq!(r.json["Resources"][0]["groups"][0]["value"], g.as_str());
    let r = send(
        &s,
        "GET",
        &format!("/scim/v2/Users/{}?excludedAttributes=groups", ids[0]),
        None,
    )
    .await;
    assert!(r.json.get("groups").is_none(), "{}", r.json);
    // Ignored on user writes: a PUT naming other groups changes no membership.
    let mut body = okta_user("member0@example.com");
    body["groups"] = json!([{"value": "some-other-group"}]);
    let r = send(&s, "PUT", &format!("/scim/v2/Users/{}", ids[0]), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["groups"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["groups"][0]["value"], g.as_str());
}
