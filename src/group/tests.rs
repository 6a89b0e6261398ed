//! The pure parts of groups: PATCH forms to edits, filters, bodies, projection.

use serde_json::json;

use super::*;
use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::filter;
use crate::patch::PatchRequest;

fn change(ops: serde_json::Value) -> Result<GroupChange, ScimError> {
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let patch = PatchRequest::parse(body.to_string().as_bytes(), &Compatibility::default())?;
    GroupChange::from_patch(&patch, "g1")
}

fn ids(list: &[&str]) -> Vec<CompactString> {
    list.iter().map(|s| (*s).into()).collect()
}

#[test]
fn membership_forms_become_edits_in_order() {
    let c = change(json!([
        {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b", "$ref": null}]},
        {"op": "add", "path": "members", "value": {"value": "c"}},
        {"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"},
        {"op": "remove", "path": "members", "value": [{"value": "c"}]}
    ]))
    .unwrap();
    assert_eq!(
        c.members,
        vec![
            MemberEdit::Add(ids(&["a", "b", "c"])),
            MemberEdit::Remove(ids(&["a", "b", "c"]))
        ]
    );
    assert_eq!(c.display_name, None);
}

#[test]
fn every_remove_all_form_empties_and_drops_earlier_edits() {
    for ops in [
        json!([{"op": "add", "path": "members", "value": [{"value": "a"}]}, {"op": "remove", "path": "members"}]),
        json!([{"op": "replace", "path": "members", "value": []}]),
        json!([{"op": "replace", "value": {"members": []}}]),
    ] {
        assert_eq!(
            change(ops.clone()).unwrap().members,
            vec![MemberEdit::RemoveAll],
            "{ops}"
        );
    }
    let set =
        change(json!([{"op": "Replace", "path": "members", "value": [{"value": "x"}]}])).unwrap();
    assert_eq!(
        set.members,
        vec![MemberEdit::RemoveAll, MemberEdit::Add(ids(&["x"]))]
    );
}

#[test]
fn okta_rename_ignores_its_own_id_and_keeps_membership() {
    let c = change(
        json!([{"op": "replace", "value": {"id": "g1", "displayName": "New", "externalId": null}}]),
    )
    .unwrap();
    assert_eq!(c.display_name.as_deref(), Some("New"));
    assert_eq!(c.external_id, Some(None));
    assert!(!c.touches_members());
    let err = change(json!([{"op": "replace", "value": {"id": "g2"}}])).unwrap_err();
    assert_eq!(err.scim_type().map(|t| t.as_str()), Some("mutability"));
}

#[test]
fn a_urn_prefixed_path_names_the_group_attribute() {
    let c = change(json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "Urn"}])).unwrap();
    assert_eq!(c.display_name.as_deref(), Some("Urn"));
}

#[test]
fn a_put_replaces_attributes_and_members() {
    let mut g = Group::new("Put");
    g.members = vec![Group::member("a")];
    let c = GroupChange::replace(&g);
    assert_eq!(
        c.members,
        vec![MemberEdit::RemoveAll, MemberEdit::Add(ids(&["a"]))]
    );
    assert_eq!(c.external_id, Some(None));
    assert_eq!(c.member_ids_named(), 1);
}

#[test]
fn group_filters_are_the_served_subset() {
    let parse = |f: &str| GroupFilter::from_filter(&filter::parse(f).unwrap());
    assert_eq!(
        parse("displayName eq \"x\"").unwrap(),
        GroupFilter::DisplayName("x".into())
    );
    assert_eq!(
        parse("members[value eq \"u\"]").unwrap(),
        GroupFilter::Member("u".into())
    );
    assert_eq!(
        parse("members eq \"u\"").unwrap(),
        GroupFilter::Member("u".into())
    );
    assert_eq!(
        parse("urn:ietf:params:scim:schemas:core:2.0:Group:externalId eq \"e\"").unwrap(),
        GroupFilter::ExternalId("e".into())
    );
    for unserved in [
        "displayName sw \"x\"",
        "members pr",
        "not (id eq \"a\")",
        "members[type eq \"User\"]",
    ] {
        let e = parse(unserved).unwrap_err();
        assert_eq!(
            e.scim_type().map(|t| t.as_str()),
            Some("invalidFilter"),
            "{unserved}"
        );
    }
    let f = parse("id eq \"g\" and (members[value eq \"a\"] or displayName eq \"N\")").unwrap();
    assert!(f.matches("g", "n", None, &|_| false));
    assert!(!f.matches("h", "n", None, &|_| true));
}

#[test]
fn group_bodies_read_leniently_and_refuse_what_they_must() {
    let g = parse_group(
        br#"{"DISPLAYNAME":"Ops","id":"ignored","meta":{},"members":null,
        "urn:ietf:params:scim:schemas:core:2.0:Group:externalId":"x"}"#,
    )
    .unwrap();
    assert_eq!(
        (g.display_name.as_str(), g.external_id.as_deref()),
        ("Ops", Some("x"))
    );
    assert!(g.id.is_none() && g.members.is_empty());
    for bad in [
        &b"{}"[..],
        br#"{"displayName":""}"#,
        br#"{"displayName":"a\u0000"}"#,
        b"nope",
    ] {
        assert!(
            parse_group(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn projection_names_top_level_attributes_case_insensitively() {
    let p = GroupProjection::new(Some("DisplayName,members.value"), None);
    assert!(p.shows("displayName") && p.shows("members") && p.shows("id"));
    assert!(!p.shows("meta") && !p.shows("externalId"));
    let p = GroupProjection::new(
        None,
        Some("urn:ietf:params:scim:schemas:core:2.0:Group:members"),
    );
    assert!(!p.shows_members() && p.shows("displayName"));
}
