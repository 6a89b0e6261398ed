//! The tests of `apply.rs`: the property test holding the engine over the user rendered
//! member by member to the engine over the whole rendered user (`apply_whole`), the
//! operations identity providers send most, and the linear-work checks.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::Doc;
use crate::compat::Compatibility;
use crate::patch::PatchRequest;
use crate::resource::User;
use crate::schema::SchemaSet;
use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

const PATHS: &[&str] = &[
    "displayName",
    "name.familyName",
    "name",
    "emails",
    "emails[type eq \"work\"].value",
    "emails[type eq \"work\"]",
    "emails[value eq \"bjensen@example.com\"]",
    "emails.value",
    "emails[primary eq true].type",
    "emails[type eq \"work\"].primary",
    "emails[value pr].primary",
    "addresses[type eq \"work\"].primary",
    "addresses[type eq \"work\"].locality",
    "phoneNumbers[type eq \"work\"].value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
    "name.givenName",
    "phoneNumbers",
    "addresses[type eq \"work\"].locality",
    "active",
    "userName",
    "externalId",
    "password",
    "title",
    "roles",
    "x509Certificates",
    "id",
    "meta.created",
    "groups",
    "favouriteColour",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:User:title",
    "urn:example:unknown:2.0:User:badge",
];

fn value(i: usize) -> Value {
    match i % 20 {
        0 => json!(null),
        1 => json!("x"),
        2 => json!("True"),
        3 => json!(true),
        4 => json!(7),
        5 => json!({"value": "a@example.com", "type": "work", "primary": true}),
        6 => json!([{"value": "v", "type": "home"}, {"value": "w", "primary": true}]),
        7 => json!([]),
        8 => json!({"familyName": "F", "givenName": null}),
        9 => json!({"department": "D", "manager": "m-1"}),
        10 => json!({
            "displayName": "D",
            "name.givenName": "G",
            "Title": "T",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Q",
            "schemas": [USER_SCHEMA]
        }),
        11 => json!(""),
        12 => json!({ENTERPRISE_USER_SCHEMA: {"costCenter": "C"}, "active": false}),
        16 => json!({"active": "false", "locale": "en"}),
        17 => json!("a\u{0}b"),
        18 => json!("TRUE "),
        19 => json!(false),
        13 => json!({"userName": "  "}),
        14 => json!({"emails": [{"value": "z@example.com"}], "id": "x", "nickName": 3}),
        _ => json!("bjensen@example.com"),
    }
}

fn recase(s: &str, how: u8) -> String {
    match how % 3 {
        0 => s.to_owned(),
        1 => s.to_ascii_lowercase(),
        _ => s.to_ascii_uppercase(),
    }
}

fn operation() -> impl Strategy<Value = Value> {
    (
        0..3usize,
        proptest::option::of((0..PATHS.len(), any::<u8>())),
        proptest::option::of(any::<usize>()),
    )
        .prop_map(|(op, path, v)| {
            let mut o = serde_json::Map::new();
            o.insert("op".into(), json!(["add", "Replace", "remove"][op]));
            if let Some((p, how)) = path {
                // Recasing a value path would change its filter's literal: only names.
                let p = PATHS[p];
                let p = if p.contains('[') {
                    p.to_owned()
                } else {
                    recase(p, how)
                };
                o.insert("path".into(), json!(p));
            }
            if let Some(v) = v {
                o.insert("value".into(), value(v));
            }
            Value::Object(o)
        })
}

const VALUE_FILTERS: &[&str] = &[
    "type eq \"work\"",
    "type eq \"WORK\"",
    "value co \"example\"",
    "value eq \"bjensen@example.com\"",
    "primary eq true",
    "not (type pr)",
    "display sw \"B\" or locality eq \"Springfield\"",
    "value ew \".com\" and primary eq false",
    "type ne \"home\"",
];

/// `ops` applied with the user rendered member by member, as the server does, or
/// (`whole`) with the whole user rendered first.
fn apply(
    user: &User,
    ops: &[crate::patch::PatchOperation],
    compat: &Compatibility,
    whole: bool,
) -> Result<User, crate::ScimError> {
    let core = SchemaSet::core();
    let doc = if whole {
        Doc::whole(user, core)
    } else {
        Doc::new(user, core)
    };
    super::apply(doc, ops, compat, usize::MAX)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    ))]

    /// PATCH tests elements one by one: an element matches a value filter exactly when
    /// the value path over a resource holding only that element does.
    #[test]
    fn an_element_matches_a_value_filter_as_the_value_path_does(
        user in crate::testing::arbitrary::user(),
        f in 0..VALUE_FILTERS.len(),
    ) {
        let doc = user.to_value();
        let filter = crate::filter::parse(VALUE_FILTERS[f]).unwrap();
        for attr in ["emails", "phoneNumbers", "addresses", "roles"] {
            let def = crate::schema::user_attribute(None, attr).unwrap();
            let path = crate::filter::AttrPath { urn: None, name: attr.into(), sub_attr: None };
            let value_path = crate::filter::Filter::ValuePath {
                path,
                filter: Box::new(filter.clone()),
            };
            for element in doc.get(attr).and_then(Value::as_array).into_iter().flatten() {
                prop_assert_eq!(
                    crate::filter::matches_element(&filter, element, def),
                    value_path.matches_value(&json!({attr: [element]})),
                    "{} on {}", VALUE_FILTERS[f], element
                );
            }
        }
    }

    /// Applying operations to the attributes they name gives what applying them to the
    /// whole rendered user gives: the same user or the same error.
    #[test]
    fn applying_to_the_named_attributes_equals_applying_to_the_whole_user(
        user in crate::testing::arbitrary::user(),
        ops in proptest::collection::vec(operation(), 1..5),
        strict in any::<bool>(),
        primaries in any::<bool>(),
    ) {
        let mut user = user;
        if primaries {
            // Several primary values, as stored data from elsewhere may have.
            for e in &mut user.emails {
                e.primary = Some(true);
            }
            for a in &mut user.addresses {
                a.primary = Some(true);
            }
        }
        let compat = if strict { Compatibility::strict() } else { Compatibility::default() };
        let body = json!({"Operations": ops});
        let Ok(request) = PatchRequest::from_value(body.clone(), &compat) else {
            return Ok(());
        };
        let show = |r: Result<crate::User, crate::ScimError>| r.map_err(|e| format!("{e:?}"));
        prop_assert_eq!(
            show(apply(&user, &request.operations, &compat, false)),
            show(apply(&user, &request.operations, &compat, true)),
            "{}", body
        );
    }
}

mod common_operations {
    use serde_json::json;

    use crate::compat::Compatibility;
    use crate::patch::PatchRequest;
    use crate::resource::input::user_from_value;

    /// Applies `ops` to a user with two primary emails and a primary address, member by
    /// member and to the whole user.
    fn both(
        ops: serde_json::Value,
    ) -> (
        Result<crate::User, crate::ScimError>,
        Result<crate::User, crate::ScimError>,
    ) {
        let compat = Compatibility::default();
        let user = user_from_value(
            json!({
                "userName": "bjensen",
                "emails": [
                    {"value": "a@example.com", "type": "work", "primary": true},
                    {"value": "b@example.com", "type": "home", "primary": true}
                ],
                "addresses": [{"type": "work", "locality": "X", "primary": true}]
            }),
            &compat,
            crate::schema::SchemaSet::core(),
        )
        .unwrap();
        let request = PatchRequest::from_value(json!({"Operations": ops}), &compat).unwrap();
        (
            super::apply(&user, &request.operations, &compat, false),
            super::apply(&user, &request.operations, &compat, true),
        )
    }

    #[test]
    fn the_operations_identity_providers_send_most_apply_as_to_the_whole_user() {
        for ops in [
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "c@example.com"}]),
            json!([{"op": "Replace", "path": "emails[primary eq true].type", "value": "other"}]),
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
            json!([{"op": "add", "path": "name.familyName", "value": "Jensen"},
                   {"op": "replace", "path": "active", "value": false}]),
            json!([{"op": "replace", "value": {"active": false, "name.givenName": "B"}}]),
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m-1"}]),
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Y"}]),
            json!([{"op": "remove", "path": "title"}]),
            json!([{"op": "replace", "path": "title", "value": null}]),
            json!([{"op": "replace", "path": "emails[type eq \"none\"].value", "value": "x"}]),
            json!([{"op": "replace", "path": "userName", "value": "  "}]),
            json!([{"op": "replace", "path": "title", "value": "a\u{0}b"}]),
            json!([{"op": "add", "path": "emails", "value": [{"value": "x"}]}]),
            json!([{"op": "replace", "path": "id", "value": "x"}]),
        ] {
            let (engine, whole) = both(ops.clone());
            let show = |r: Result<crate::User, crate::ScimError>| r.map_err(|e| format!("{e:?}"));
            assert_eq!(show(engine), show(whole), "{ops}");
        }
        // Only the last selected primary value stays primary, the others are cleared.
        let (engine, _) = both(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@example.com"}]),
        );
        let emails = engine.unwrap().emails;
        assert_eq!(emails[0].primary, Some(false));
        assert_eq!(emails[1].primary, Some(true));
    }

    /// The scalars identity providers set most are written to the typed user through the
    /// attribute table: nothing is rendered to JSON for them.
    #[test]
    fn common_scalar_operations_render_nothing() {
        let compat = Compatibility::default();
        let user = user_from_value(
            json!({"userName": "bjensen", "emails": [{"value": "a@example.com", "type": "work"}]}),
            &compat,
            crate::schema::SchemaSet::core(),
        )
        .unwrap();
        let request = PatchRequest::from_value(
            json!({"Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"},
                {"op": "Replace", "path": "name.familyName", "value": "Jensen"},
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "replace", "value": {"title": "T", "name.givenName": "B"}},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"}
            ]}),
            &compat,
        )
        .unwrap();
        let core = crate::schema::SchemaSet::core();
        let mut doc = super::super::Doc::new(&user, core);
        for op in &request.operations {
            super::super::apply_op(&mut doc, op, &compat, usize::MAX, core).unwrap();
        }
        assert_eq!(doc.rendered(), &[] as &[&str]);
        let out = doc.into_user().unwrap();
        assert_eq!(out.emails[0].value.as_deref(), Some("b@example.com"));
        assert_eq!(out.name.unwrap().given_name.as_deref(), Some("B"));
        assert_eq!((out.active, out.title.as_deref()), (Some(true), Some("T")));
    }
}

/// The work of PATCH on long lists, counted (index keys and lookups), not timed: it must
/// grow like n log n at most, not like n².
mod work_tests {
    use serde_json::{Value, json};

    use crate::compat::Compatibility;
    use crate::patch::PatchRequest;
    use crate::patch::elements::work;
    use crate::resource::input::user_from_value;

    fn emails(from: usize, n: usize, primary: bool) -> Vec<Value> {
        (from..from + n)
            .map(|i| json!({"value": format!("u{i}@Example.com"), "type": "work", "primary": primary}))
            .collect()
    }

    /// The operations counted while applying `ops` to a user holding `n` emails.
    fn work_of(n: usize, ops: impl Fn(usize) -> Value) -> u64 {
        let compat = Compatibility::default();
        let user = user_from_value(
            json!({"userName": "bjensen", "emails": emails(0, n, false)}),
            &compat,
            crate::schema::SchemaSet::core(),
        )
        .unwrap();
        let request = PatchRequest::from_value(json!({"Operations": ops(n)}), &compat).unwrap();
        work::take();
        let out = request.apply(&user, &compat).unwrap();
        let counted = work::take();
        assert!(!out.user_name.is_empty());
        counted
    }

    /// Fails when the work for 10·n elements is more than n log n growth allows.
    fn assert_n_log_n(what: &str, ops: impl Fn(usize) -> Value) {
        assert!(work_of(300, &ops) > 0, "{what}: no work counted");
        crate::test_checks::assert_n_log_n(what, 300, |n| work_of(n, &ops));
    }

    #[test]
    fn patch_add_of_many_emails_does_linear_work() {
        // Half new, half already there in another letter case (merged, not appended).
        assert_n_log_n("add", |n| {
            let mut value = emails(n, n, false);
            for e in emails(0, n, false) {
                let v = e["value"].as_str().unwrap().to_uppercase();
                value.push(json!({"value": v, "type": "work"}));
            }
            json!([{"op": "add", "path": "emails", "value": value}])
        });
    }

    #[test]
    fn patch_add_of_many_primary_emails_does_linear_work() {
        assert_n_log_n(
            "add primary",
            |n| json!([{"op": "add", "path": "emails", "value": emails(n, n, true)}]),
        );
    }

    #[test]
    fn patch_remove_of_many_listed_emails_does_linear_work() {
        assert_n_log_n(
            "remove with a value list",
            |n| json!([{"op": "remove", "path": "emails", "value": emails(0, n / 2, false)}]),
        );
    }

    /// Operations that each add one new email: without a bound the list grows with the
    /// request and every operation indexes all of it (work quadratic in the request);
    /// bounded, the request is refused once the list passes the limit, and the work
    /// depends on the limit, not on the number of operations.
    #[test]
    fn patch_of_many_adding_operations_stops_at_the_element_limit() {
        let compat = Compatibility::default();
        let user = user_from_value(
            json!({"userName": "bjensen"}),
            &compat,
            crate::schema::SchemaSet::core(),
        )
        .unwrap();
        let work = |n: usize| {
            let ops: Vec<Value> = emails(0, n, false)
                .into_iter()
                .map(|e| json!({"op": "add", "path": "emails", "value": [e]}))
                .collect();
            let request = PatchRequest::from_value(json!({"Operations": ops}), &compat).unwrap();
            work::take();
            let e = request
                .apply_bounded(&user, &compat, 100, crate::schema::SchemaSet::core())
                .unwrap_err();
            assert!(
                matches!(&e, crate::ScimError::InvalidValue(m) if m.starts_with("emails holds 101 values")),
                "{e:?}"
            );
            work::take()
        };
        let (small, large) = (work(300), work(3000));
        assert!(large <= small + small / 10, "{small} then {large}");
        assert!(
            PatchRequest::from_value(
                json!({"Operations": [{"op": "add", "path": "emails", "value": emails(0, 100, false)}]}),
                &compat
            )
            .unwrap()
            .apply_bounded(&user, &compat, 100, crate::schema::SchemaSet::core())
            .is_ok()
        );
    }

    fn element() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        (
            0..4usize,
            proptest::option::of(0..3usize),
            proptest::option::of(any::<bool>()),
            any::<bool>(),
        )
            .prop_map(|(v, t, primary, display)| {
                let mut o = serde_json::Map::new();
                o.insert(
                    "value".into(),
                    json!(["a@x.com", "A@X.com", "b@x.com", "c@x.com"][v]),
                );
                if let Some(t) = t {
                    o.insert("type".into(), json!(["work", "home", "other"][t]));
                }
                if let Some(p) = primary {
                    o.insert("primary".into(), json!(p));
                }
                if display {
                    o.insert("display".into(), json!("D"));
                }
                Value::Object(o)
            })
    }

    /// The add of the RFC, by comparing each added element with every element: the
    /// reference the indexed add is held to.
    fn add_by_scanning(mut items: Vec<Value>, new: Vec<Value>) -> Vec<Value> {
        for element in new {
            let at = match items
                .iter()
                .position(|e| super::super::super::elements::same_element(false, e, &element))
            {
                Some(i) => {
                    super::super::merge_into(&mut items[i], element);
                    i
                }
                None => {
                    items.push(element);
                    items.len() - 1
                }
            };
            super::super::fix_primary(&mut items, at);
        }
        items
    }

    proptest::proptest! {
        /// Adding elements through the index gives what comparing each with every
        /// element gives: the same merges, appends and primary values.
        #[test]
        fn indexed_add_equals_adding_by_scanning(
            old in proptest::collection::vec(element(), 0..8),
            new in proptest::collection::vec(element(), 1..8),
        ) {
            let compat = Compatibility::default();
            let user = user_from_value(json!({"userName": "b", "emails": old}), &compat, crate::schema::SchemaSet::core()).unwrap();
            let request = PatchRequest::from_value(
                json!({"Operations": [{"op": "add", "path": "emails", "value": new}]}),
                &compat,
            )
            .unwrap();
            let Ok(out) = request.apply(&user, &compat) else {
                return Ok(());
            };
            // The reference, on the canonical JSON both start from.
            let items = serde_json::to_value(&user.emails).unwrap();
            let added = serde_json::to_value(&user_from_value(
                json!({"userName": "b", "emails": new}),
                &compat, crate::schema::SchemaSet::core(),
            )
            .unwrap()
            .emails)
            .unwrap();
            let expected = add_by_scanning(
                items.as_array().cloned().unwrap_or_default(),
                added.as_array().cloned().unwrap_or_default(),
            );
            proptest::prop_assert_eq!(serde_json::to_value(&out.emails).unwrap(), Value::Array(expected));
        }
    }

    #[test]
    fn patch_add_merges_and_appends_as_before() {
        let compat = Compatibility::default();
        let user = user_from_value(
            json!({"userName": "b", "emails": [
                {"value": "a@x.com", "primary": true},
                {"value": "b@x.com", "type": "home"}
            ]}),
            &compat,
            crate::schema::SchemaSet::core(),
        )
        .unwrap();
        let request = PatchRequest::from_value(
            json!({"Operations": [{"op": "add", "path": "emails", "value": [
                {"value": "A@X.com", "type": "work"},
                {"value": "b@x.com", "type": "work", "primary": true},
                {"value": "B@x.com", "type": "home", "display": "B"}
            ]}]}),
            &compat,
        )
        .unwrap();
        let out = request.apply(&user, &compat).unwrap();
        let got: Vec<_> = out
            .emails
            .iter()
            .map(|e| {
                (
                    e.value.as_deref().unwrap_or_default().to_owned(),
                    e.kind.as_deref().map(str::to_owned),
                    e.primary,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("A@X.com".to_owned(), Some("work".to_owned()), Some(false)),
                ("B@x.com".to_owned(), Some("home".to_owned()), None),
                ("b@x.com".to_owned(), Some("work".to_owned()), Some(true)),
            ]
        );
    }
}
