use serde_json::{Value, json};

use super::*;
use crate::resource::input::user_from_value;
use crate::schema::ENTERPRISE_USER_SCHEMA;

fn base() -> User {
    let mut u = user_from_value(
        json!({
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@home.org", "type": "home"}
            ],
            "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}],
            "active": true,
            ENTERPRISE_USER_SCHEMA: {"department": "Ops", "manager": {"value": "m-1"}}
        }),
        &Compatibility::default(), crate::schema::SchemaSet::core(),
    )
    .unwrap();
    u.id = Some("id-1".into());
    u.password = Some(crate::resource::Secret::new("pw"));
    u
}

fn patch(ops: Value) -> Result<User, ScimError> {
    patch_with(ops, &Compatibility::default())
}

fn patch_with(ops: Value, compat: &Compatibility) -> Result<User, ScimError> {
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    PatchRequest::from_value(body, compat)?.apply(&base(), compat)
}

fn v(u: &User) -> Value {
    u.to_value()
}

#[test]
fn replace_simple_and_sub_attribute() {
    let u = patch(json!([
        {"op": "replace", "path": "displayName", "value": "Babs"},
        {"op": "replace", "path": "name.familyName", "value": "Smith"}
    ]))
    .unwrap();
    assert_eq!(u.display_name.as_deref(), Some("Babs"));
    let name = u.name.as_ref().unwrap();
    assert_eq!(name.family_name.as_deref(), Some("Smith"));
    assert_eq!(
        name.given_name.as_deref(),
        Some("Barbara"),
        "replace of a sub-attribute keeps the others"
    );
    assert_eq!(u.id.as_deref(), Some("id-1"));
    assert!(
        u.password.is_some(),
        "password survives a PATCH that does not touch it"
    );
}

#[test]
fn replace_complex_replaces_only_given_sub_attributes() {
    let u = patch(json!([{"op": "replace", "path": "name", "value": {"familyName": "Smith"}}]))
        .unwrap();
    let name = u.name.unwrap();
    assert_eq!(name.family_name.as_deref(), Some("Smith"));
    assert_eq!(name.given_name.as_deref(), Some("Barbara"));
}

#[test]
fn add_to_multi_valued_appends_without_duplicates() {
    let u = patch(json!([
        {"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "other"}]},
        {"op": "add", "path": "emails", "value": [{"value": "BJENSEN@example.com", "type": "work"}]}
    ]))
    .unwrap();
    assert_eq!(u.emails.len(), 3, "{:?}", u.emails);
    assert_eq!(u.emails[2].value.as_deref(), Some("new@example.com"));
}

#[test]
fn primary_true_on_one_value_clears_the_others() {
    let u = patch(json!([{"op": "add", "path": "emails", "value": [{"value": "p@example.com", "type": "other", "primary": true}]}])).unwrap();
    let primaries: Vec<_> = u
        .emails
        .iter()
        .filter(|e| e.primary == Some(true))
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0].value.as_deref(), Some("p@example.com"));
    let u = patch(
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
    )
    .unwrap();
    assert_eq!(u.emails[0].primary, Some(false));
    assert_eq!(u.emails[1].primary, Some(true));
}

#[test]
fn value_path_with_sub_attribute_replaces_matching_elements() {
    let u = patch(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
        {"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "2 Side St"}
    ]))
    .unwrap();
    assert_eq!(u.emails[0].value.as_deref(), Some("new@example.com"));
    assert_eq!(u.emails[0].kind.as_deref(), Some("work"));
    assert_eq!(u.emails[1].value.as_deref(), Some("babs@home.org"));
    assert_eq!(u.addresses[0].street_address.as_deref(), Some("2 Side St"));
    assert_eq!(u.addresses[0].locality.as_deref(), Some("Springfield"));
}

#[test]
fn entra_unmatched_value_path_creates_the_element() {
    let u = patch(json!([
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
        {"op": "Replace", "path": "addresses[type eq \"home\"].locality", "value": "Shelbyville"}
    ]))
    .unwrap();
    assert_eq!(u.phone_numbers.len(), 1);
    assert_eq!(u.phone_numbers[0].kind.as_deref(), Some("mobile"));
    assert_eq!(u.phone_numbers[0].value.as_deref(), Some("+1 555 0100"));
    let home = u
        .addresses
        .iter()
        .find(|a| a.kind.as_deref() == Some("home"))
        .unwrap();
    assert_eq!(home.locality.as_deref(), Some("Shelbyville"));
    let strict = patch_with(
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "1"}]),
        &Compatibility::strict(),
    );
    assert!(matches!(strict, Err(ScimError::NoTarget(_))), "{strict:?}");
}

#[test]
fn remove_paths() {
    let u = patch(json!([
        {"op": "remove", "path": "emails[type eq \"home\"]"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
    ]))
    .unwrap();
    assert_eq!(u.emails.len(), 1);
    assert!(u.name.unwrap().given_name.is_none());
    let ent = u.enterprise.unwrap();
    assert!(ent.department.is_none());
    assert!(ent.manager.is_some());
    let u =
        patch(json!([{"op": "remove", "path": "emails"}, {"op": "remove", "path": "addresses"}]))
            .unwrap();
    assert!(u.emails.is_empty() && u.addresses.is_empty());
}

#[test]
fn entra_remove_with_value_removes_matching_elements() {
    let u =
        patch(json!([{"op": "Remove", "path": "emails", "value": [{"value": "BABS@home.org"}]}]))
            .unwrap();
    assert_eq!(u.emails.len(), 1);
    assert_eq!(u.emails[0].value.as_deref(), Some("bjensen@example.com"));
}

#[test]
fn entra_manager_add_replace_remove_in_every_shape() {
    let mgr = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    for value in [
        json!("m-2"),
        json!({"value": "m-2"}),
        json!([{"value": "m-2"}]),
    ] {
        for op in ["Add", "Replace"] {
            let u = patch(json!([{"op": op, "path": mgr, "value": value.clone()}])).unwrap();
            let out = v(&u);
            assert_eq!(
                out[ENTERPRISE_USER_SCHEMA]["manager"],
                json!({"value": "m-2"}),
                "{op} {value}"
            );
        }
    }
    for ops in [
        json!([{"op": "Remove", "path": mgr}]),
        json!([{"op": "Remove", "path": mgr, "value": [{"value": "m-1"}]}]),
        json!([{"op": "Remove", "path": mgr, "value": "m-1"}]),
    ] {
        let u = patch(ops).unwrap();
        assert!(u.enterprise.unwrap().manager.is_none());
    }
}

#[test]
fn pathless_values_with_dotted_and_urn_keys_land_nested() {
    let u = patch(json!([{"op": "replace", "value": {
        "name.givenName": "Babs",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "m-9",
        "active": "False"
    }}]))
    .unwrap();
    let out = v(&u);
    assert_eq!(out["name"]["givenName"], "Babs");
    assert_eq!(out["name"]["familyName"], "Jensen");
    assert_eq!(out[ENTERPRISE_USER_SCHEMA]["employeeNumber"], "42");
    assert_eq!(out[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "m-9");
    assert_eq!(out["active"], false);
    assert!(
        out.get("name.givenName").is_none(),
        "never a literal dotted key"
    );
}

#[test]
fn okta_pathless_replace_active_false() {
    let u = patch(json!([{"op": "replace", "value": {"active": false}}])).unwrap();
    assert_eq!(u.active, Some(false));
    assert_eq!(u.emails.len(), 2);
}

#[test]
fn capitalised_ops_are_accepted_unless_strict() {
    assert!(patch(json!([{"op": "Replace", "path": "title", "value": "x"}])).is_ok());
    let e = patch_with(
        json!([{"op": "Replace", "path": "title", "value": "x"}]),
        &Compatibility::strict(),
    );
    assert!(matches!(e, Err(ScimError::InvalidSyntax(_))));
}

#[test]
fn errors_have_the_right_scim_type() {
    let cases = [
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "meta.created", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            "mutability",
        ),
        (json!([{"op": "remove", "path": "userName"}]), "mutability"),
        (
            json!([{"op": "replace", "path": "userName", "value": null}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "name", "value": 7}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq]", "value": 7}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "userName.x", "value": "y"}]),
            "invalidPath",
        ),
        (json!([{"op": "replace", "path": "title"}]), "invalidValue"),
        (
            json!([{"op": "jump", "path": "title", "value": "x"}]),
            "invalidSyntax",
        ),
        (json!([]), "invalidSyntax"),
        (
            json!([{"op": "add", "value": "not an object"}]),
            "invalidValue",
        ),
    ];
    for (ops, scim_type) in cases {
        let e = patch(ops.clone()).unwrap_err();
        assert_eq!(
            e.scim_type().map(|t| t.as_str()),
            Some(scim_type),
            "{ops}: {e:?}"
        );
    }
}

#[test]
fn a_failing_operation_changes_nothing() {
    let before = base();
    let ops = json!([
        {"op": "replace", "path": "displayName", "value": "changed"},
        {"op": "replace", "path": "id", "value": "x"}
    ]);
    let body = json!({"Operations": ops});
    let req = PatchRequest::from_value(body, &Compatibility::default()).unwrap();
    assert!(req.apply(&before, &Compatibility::default()).is_err());
    assert_eq!(before, base());
}

#[test]
fn unknown_attributes_are_ignored() {
    let u = patch(json!([
        {"op": "replace", "path": "shoeSize", "value": 44},
        {"op": "add", "value": {"favouriteColour": "blue"}},
        {"op": "replace", "path": "urn:example:custom:2.0:User:badge", "value": "x"}
    ]))
    .unwrap();
    assert_eq!(v(&u), v(&base()));
}

#[test]
fn password_can_be_replaced_and_is_not_returned() {
    let u = patch(json!([{"op": "replace", "path": "password", "value": "n3w"}])).unwrap();
    assert_eq!(u.password.as_ref().map(|p| p.expose()), Some("n3w"));
    assert!(v(&u).get("password").is_none());
}
