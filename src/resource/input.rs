//! Reading a User from a client's JSON body: the rules of the one reader (`read.rs`),
//! which reads a body's text as it streams, or an already-parsed JSON value, and fills the
//! typed [`User`] by the schema definitions of [`crate::schema`] (the server's
//! [`SchemaSet`]):
//!
//! - attribute names are matched case-insensitively (RFC 7643 §2.1) and kept in their
//!   canonical spelling, including the extension URN; an attribute given twice (in any
//!   letter case) is 400 `invalidSyntax`, and so is any member name repeated exactly;
//! - `null` means absent (RFC 7644 §3.5.1 reads it as "unassigned");
//! - unknown attributes and sub-attributes are ignored, never a 400;
//! - read-only attributes sent by the client (`id`, `meta`, `groups`, `manager.displayName`)
//!   are ignored: clients such as Okta echo a previous GET back in a PUT;
//! - `schemas` is checked, not trusted: absent, `null` or a list of strings none of which
//!   names another resource or message (`Group`, `PatchOp`, `Error`, ...; the SCIM 1.1
//!   core URN and unknown extensions are accepted); the server computes the `schemas` it
//!   stores from what is present;
//! - attribute names carrying their schema URN (`urn:...:enterprise:2.0:User:employeeNumber`)
//!   are placed in that schema, and so are the members of an object under the core
//!   schema's URN;
//! - as the [`Compatibility`] policy allows: booleans sent as strings (`"True"`,
//!   `"false"`), a manager sent as a plain string (read as `{"value": ...}`) or as a
//!   one-element array (Entra ID);
//! - a single object where an array is expected, or an array where a single value is
//!   expected (other than the manager above), is a 400: no known client sends them;
//! - everything else of the wrong type, and a string with a NUL character, is a 400
//!   `invalidValue` naming the attribute; a missing or blank `userName` too;
//! - a body that is not one JSON object is 400 `invalidSyntax`, before anything else.
//!
//! PATCH reads its values by the same rules (`canonical_value` and its kin, over the
//! value it holds).

use std::fmt;

use serde_json::Value;

use super::User;
use super::read::{Ctx, Met, Single, Whole, read_user};
use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::schema::{AttributeDef, SchemaSet};

/// Parses a request body into a [`User`], applying the rules of this module. Extension
/// objects are read by the definitions of `schemas` (the server's); those of other
/// extensions are ignored.
pub fn parse_user(
    body: &[u8],
    compat: &Compatibility,
    schemas: &SchemaSet,
) -> Result<User, ScimError> {
    let ctx = Ctx::new(compat, schemas, true);
    let mut user = User::default();
    // UTF-8 checked once for the whole body, not string by string; a body that is not
    // UTF-8 is read from its bytes, for the deserializer to say where.
    let read = match std::str::from_utf8(body) {
        Ok(text) => {
            let mut de = serde_json::Deserializer::from_str(text);
            read_user(&ctx, &mut de, &mut user).and_then(|()| de.end())
        }
        Err(_) => {
            let mut de = serde_json::Deserializer::from_slice(body);
            read_user(&ctx, &mut de, &mut user).and_then(|()| de.end())
        }
    };
    ctx.finish(read)?;
    Ok(user)
}

/// Reads a [`User`] from an already-parsed JSON value, applying the rules of this module
/// (the same reader as [`parse_user`]'s).
pub fn user_from_value(
    value: Value,
    compat: &Compatibility,
    schemas: &SchemaSet,
) -> Result<User, ScimError> {
    let ctx = Ctx::new(compat, schemas, false);
    let mut user = User::default();
    let read = read_user(&ctx, value, &mut user);
    ctx.finish(read)?;
    Ok(user)
}

/// The canonical form of a value of attribute `def` (an array for a multi-valued one),
/// or `None` when it means "absent". `path` names the attribute in error messages.
pub(crate) fn canonical_value(
    def: &'static AttributeDef,
    value: &Value,
    path: &dyn fmt::Display,
    compat: &Compatibility,
) -> Result<Option<Value>, ScimError> {
    let ctx = Ctx::new(compat, SchemaSet::core(), false);
    let read = super::read::read_value(
        Whole(Single {
            def,
            path,
            ctx: &ctx,
        }),
        value,
    );
    ctx.finish(read)
}

/// The canonical form of one value of attribute `def` (one element of a multi-valued
/// one), or `None` when it means "absent".
pub(crate) fn canonical_single(
    def: &'static AttributeDef,
    value: &Value,
    path: &dyn fmt::Display,
    compat: &Compatibility,
) -> Result<Option<Value>, ScimError> {
    let ctx = Ctx::new(compat, SchemaSet::core(), false);
    let read = super::read::read_single(
        Single {
            def,
            path,
            ctx: &ctx,
        },
        value,
    );
    ctx.finish(read)
}

pub(crate) use super::read::Simple;

/// Reads `value` as the simple attribute `def` (neither complex nor multi-valued), by the
/// reader's own table, without copying it.
pub(crate) fn canonical_simple(
    def: &AttributeDef,
    value: &Value,
    path: &dyn fmt::Display,
    compat: &Compatibility,
) -> Result<Simple, ScimError> {
    super::read::simple(def, &Met::of(value), compat)
        .map_err(|expected| ScimError::InvalidValue(format!("attribute {path} must be {expected}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn user(v: Value) -> Result<User, ScimError> {
        user_from_value(
            v,
            &Compatibility::default(),
            crate::schema::SchemaSet::core(),
        )
    }

    #[test]
    fn attribute_names_are_case_insensitive() {
        let u = user(json!({
            "USERNAME": "bjensen",
            "Name": {"GivenName": "Barbara", "familyname": "Jensen"},
            "EMAILS": [{"Value": "b@example.com", "TYPE": "work", "Primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "701984"}
        }))
        .unwrap();
        assert_eq!(u.user_name, "bjensen");
        let name = u.name.unwrap();
        assert_eq!(name.given_name.as_deref(), Some("Barbara"));
        assert_eq!(name.family_name.as_deref(), Some("Jensen"));
        assert_eq!(u.emails[0].primary, Some(true));
        assert_eq!(
            u.enterprise.unwrap().employee_number.as_deref(),
            Some("701984")
        );
    }

    #[test]
    fn null_means_absent_and_unknown_attributes_are_ignored() {
        let u = user(json!({
            "userName": "bjensen",
            "displayName": null,
            "name": {"givenName": null},
            "favouriteColour": "blue",
            "urn:example:custom:2.0:User": {"badge": 7},
            "emails": null
        }))
        .unwrap();
        assert!(u.display_name.is_none());
        assert!(u.name.is_none());
        assert!(u.emails.is_empty());
    }

    #[test]
    fn read_only_attributes_from_the_client_are_ignored() {
        let u = user(json!({
            "schemas": ["bogus"],
            "id": "client-chosen",
            "userName": "bjensen",
            "meta": {"resourceType": "User", "created": "not a date"},
            "groups": [{"value": "g1", "display": "Admins"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "manager": {"value": "m1", "displayName": "Boss"}
            }
        }))
        .unwrap();
        assert!(u.id.is_none());
        assert!(u.meta.is_none());
        assert!(u.groups.is_empty());
        let m = u.enterprise.unwrap().manager.unwrap();
        assert_eq!(m.value.as_deref(), Some("m1"));
        assert!(m.display_name.is_none());
    }

    #[test]
    fn string_booleans_are_read_as_booleans() {
        assert_eq!(
            user(json!({"userName": "a", "active": "True"}))
                .unwrap()
                .active,
            Some(true)
        );
        assert_eq!(
            user(json!({"userName": "a", "active": "false"}))
                .unwrap()
                .active,
            Some(false)
        );
        let e = user(json!({"userName": "a", "active": "yes"})).unwrap_err();
        assert!(
            matches!(e, ScimError::InvalidValue(ref m) if m.contains("active")),
            "{e:?}"
        );
    }

    #[test]
    fn manager_as_plain_string_and_urn_prefixed_keys() {
        let u = user(json!({
            "userName": "a",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "m-7"}
        }))
        .unwrap();
        let e = u.enterprise.unwrap();
        assert_eq!(e.employee_number.as_deref(), Some("42"));
        assert_eq!(e.manager.unwrap().value.as_deref(), Some("m-7"));
    }

    #[test]
    fn wrong_types_are_invalid_value_naming_the_attribute() {
        for (body, attr) in [
            (json!({"userName": 5}), "userName"),
            (json!({"userName": "a", "name": "Barbara"}), "name"),
            (
                json!({"userName": "a", "emails": [{"value": 3}]}),
                "emails.value",
            ),
            (
                json!({"userName": "a", "name": {"givenName": ["x"]}}),
                "name.givenName",
            ),
        ] {
            let e = user(body).unwrap_err();
            assert!(
                matches!(&e, ScimError::InvalidValue(m) if m.contains(attr)),
                "{attr}: {e:?}"
            );
        }
    }

    #[test]
    fn missing_user_name_is_invalid_value() {
        assert!(matches!(
            user(json!({"displayName": "x"})),
            Err(ScimError::InvalidValue(_))
        ));
        assert!(matches!(
            user(json!({"userName": "  "})),
            Err(ScimError::InvalidValue(_))
        ));
        assert!(matches!(
            parse_user(
                b"[1,2]",
                &Compatibility::default(),
                crate::schema::SchemaSet::core()
            ),
            Err(ScimError::InvalidSyntax(_))
        ));
        assert!(matches!(
            parse_user(
                b"{\"userName\":",
                &Compatibility::default(),
                crate::schema::SchemaSet::core()
            ),
            Err(ScimError::InvalidSyntax(_))
        ));
    }

    #[test]
    fn strict_compatibility_refuses_string_booleans_and_string_manager() {
        let strict = Compatibility::strict();
        let e = user_from_value(
            json!({"userName": "a", "active": "true"}),
            &strict,
            crate::schema::SchemaSet::core(),
        );
        assert!(matches!(e, Err(ScimError::InvalidValue(_))));
        let body = json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"manager": "m"}});
        assert!(matches!(
            user_from_value(body, &strict, crate::schema::SchemaSet::core()),
            Err(ScimError::InvalidValue(_))
        ));
    }

    #[test]
    fn manager_as_one_element_array_is_read_as_object() {
        let u =
            user(json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"manager": [{"value": "m1"}]}}))
                .unwrap();
        assert_eq!(
            u.enterprise.unwrap().manager.unwrap().value.as_deref(),
            Some("m1")
        );
    }

    #[test]
    fn reshaped_values_are_refused_naming_the_attribute() {
        for (body, attribute) in [
            (
                json!({"userName": "a", "emails": {"value": "a@example.com"}}),
                "emails",
            ),
            (
                json!({"userName": "a", "addresses": {"locality": "Paris"}}),
                "addresses",
            ),
            (json!({"userName": "a", "active": [true]}), "active"),
            (
                json!({"userName": "a", "name": [{"givenName": "A"}]}),
                "name",
            ),
            (json!({"userName": "a", "title": ["t"]}), "title"),
        ] {
            for compat in [Compatibility::default(), Compatibility::strict()] {
                match user_from_value(body.clone(), &compat, crate::schema::SchemaSet::core()) {
                    Err(ScimError::InvalidValue(m)) => assert!(m.contains(attribute), "{m}"),
                    other => panic!("{body}: {other:?}"),
                }
                let text = serde_json::to_vec(&body).unwrap();
                assert!(matches!(
                    super::parse_user(&text, &compat, crate::schema::SchemaSet::core()),
                    Err(ScimError::InvalidValue(_))
                ));
            }
        }
        // The manager as a one-element array stays Entra's tolerance, off under strict().
        let body = json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"manager": [{"value": "m"}]}});
        assert!(
            user_from_value(
                body.clone(),
                &Compatibility::default(),
                crate::schema::SchemaSet::core()
            )
            .is_ok()
        );
        assert!(
            user_from_value(
                body,
                &Compatibility::strict(),
                crate::schema::SchemaSet::core()
            )
            .is_err()
        );
    }

    #[test]
    fn schemas_naming_another_resource_or_message_are_invalid_syntax() {
        for schemas in [
            json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]),
            json!([USER_SCHEMA, "urn:ietf:params:scim:api:messages:2.0:PatchOp"]),
            json!(["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:ERROR"]),
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]),
            json!(["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]),
            json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]),
            json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]),
            json!(USER_SCHEMA),
            json!([1]),
            json!([USER_SCHEMA, null]),
            json!({"a": USER_SCHEMA}),
        ] {
            let body = json!({"userName": "a", "schemas": schemas});
            let text = serde_json::to_vec(&body).unwrap();
            for compat in [Compatibility::default(), Compatibility::strict()] {
                assert!(
                    matches!(
                        super::parse_user(&text, &compat, crate::schema::SchemaSet::core()),
                        Err(ScimError::InvalidSyntax(_))
                    ),
                    "{body}"
                );
            }
        }
    }

    #[test]
    fn schemas_of_real_clients_are_accepted() {
        for schemas in [
            json!(null),
            json!([]),
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
            json!(["urn:ietf:params:scim:schemas:core:2.0:user"]),
            // OneLogin's SCIM 1.1 core URN.
            json!(["urn:scim:schemas:core:1.0"]),
            // Slack's own extension, unknown here.
            json!([
                USER_SCHEMA,
                "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User"
            ]),
        ] {
            let body = json!({"userName": "a", "schemas": schemas});
            let text = serde_json::to_vec(&body).unwrap();
            assert!(
                super::parse_user(
                    &text,
                    &Compatibility::strict(),
                    crate::schema::SchemaSet::core()
                )
                .is_ok(),
                "{body}"
            );
        }
        // Databricks' SDK and Gluu's client send no schemas at all.
        assert!(
            super::parse_user(
                br#"{"userName": "a"}"#,
                &Compatibility::strict(),
                crate::schema::SchemaSet::core()
            )
            .is_ok()
        );
    }
}
