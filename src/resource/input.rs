//! Reading a User from a client's JSON body.
//!
//! The body is first *canonicalised* against the schema definitions in
//! [`crate::schema`], then deserialized into the typed [`User`]:
//!
//! - attribute names are matched case-insensitively (RFC 7643 §2.1) and rewritten to
//!   their canonical spelling, including the extension URN;
//! - `null` means absent (RFC 7644 §3.5.1 reads it as "unassigned");
//! - unknown attributes and sub-attributes are ignored, never a 400;
//! - read-only attributes sent by the client (`id`, `meta`, `groups`, `manager.displayName`)
//!   are ignored: clients such as Okta echo a previous GET back in a PUT;
//! - `schemas` is checked, not trusted (`check_user_schemas`): absent, `null` or a list
//!   of strings none of which names another resource or message; the server computes the
//!   `schemas` it stores from what is present;
//! - attribute names carrying their schema URN (`urn:...:enterprise:2.0:User:employeeNumber`)
//!   are placed in that schema;
//! - as the [`Compatibility`] policy allows: booleans sent as strings (`"True"`,
//!   `"false"`), a manager sent as a plain string (read as `{"value": ...}`) or as a
//!   one-element array (Entra ID);
//! - a single object where an array is expected, or an array where a single value is
//!   expected (other than the manager above), is a 400: no known client sends them;
//! - everything else of the wrong type is a 400 `invalidValue` naming the attribute.

use std::fmt;

use serde_json::{Map, Value};

use super::User;
use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::schema::{
    self, AttributeDef, AttributeType, Mutability, SchemaDef, SchemaSet, USER_SCHEMA,
    user_attribute,
};

pub use super::parse_user;

/// Reads a [`User`] from an already-parsed JSON value, applying the rules of this module.
pub fn user_from_value(
    value: Value,
    compat: &Compatibility,
    schemas: &SchemaSet,
) -> Result<User, ScimError> {
    let canonical = canonicalize_user(value, compat, schemas)?;
    match canonical.get("userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => {
            return Err(ScimError::InvalidValue(
                "required attribute userName is missing or empty".into(),
            ));
        }
    }
    let Value::Object(doc) = canonical else {
        return Err(ScimError::InvalidSyntax(
            "request body must be a JSON object".into(),
        ));
    };
    User::from_canonical(doc)
        .map_err(|e| ScimError::InvalidValue(format!("invalid User resource: {e}")))
}

/// Canonicalises a User JSON object: canonical attribute names, nulls, unknown and
/// read-only attributes removed, compatible spellings of values normalised.
pub fn canonicalize_user(
    value: Value,
    compat: &Compatibility,
    schemas: &SchemaSet,
) -> Result<Value, ScimError> {
    let Value::Object(obj) = value else {
        return Err(ScimError::InvalidSyntax(
            "request body must be a JSON object".into(),
        ));
    };
    let mut out = Map::new();
    let mut extensions: Vec<(&'static SchemaDef, Map<String, Value>)> = Vec::new();
    for (key, value) in obj {
        place(key, value, &mut out, &mut extensions, compat, schemas)?;
    }
    for (schema, attrs) in extensions {
        if !attrs.is_empty() {
            out.insert(schema.id.into(), Value::Object(attrs));
        }
    }
    Ok(Value::Object(out))
}

/// Where the URNs of RFC 7643/7644's own resources and messages begin (compared in any
/// letter case): every URN under them but the User schema's names something else.
const CORE_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";
const MESSAGES_PREFIX: &str = "urn:ietf:params:scim:api:messages:2.0:";

/// The `schemas` member of a User body (POST, PUT): absent (`null`, `[]`) or a list of
/// strings, none of which names another resource or message of RFC 7643/7644 (`Group`,
/// `Schema`, `PatchOp`, `Error`, `ListResponse`, `BulkRequest`, `SearchRequest`, ...).
/// Any other URN is accepted: the Enterprise and registered extensions, unknown
/// extensions (Slack's), the SCIM 1.1 core URN (OneLogin). Anything else is 400
/// `invalidSyntax` (the body does not conform to the request's schema, RFC 7644 §3.12).
/// The one check, shared by the general and the fast input paths.
pub(crate) fn check_user_schemas(value: &Value) -> Result<(), ScimError> {
    for urn in schema_urns(value)? {
        let other = starts_with_ignore_case(urn, MESSAGES_PREFIX)
            || (starts_with_ignore_case(urn, CORE_PREFIX)
                && !urn.eq_ignore_ascii_case(USER_SCHEMA));
        if other {
            return Err(ScimError::InvalidSyntax(format!(
                "schemas names {urn:?}, which is not the User resource"
            )));
        }
    }
    Ok(())
}

/// The `schemas` member of a PatchOp message: absent (`null`, `[]`) or a list of strings
/// that includes the PatchOp URN (in any letter case); anything else is 400
/// `invalidSyntax`, as for [`check_user_schemas`]. Shared by the general and the fast
/// PATCH readers.
pub(crate) fn check_patch_schemas(value: &Value) -> Result<(), ScimError> {
    let urns = schema_urns(value)?;
    if urns.is_empty()
        || urns
            .iter()
            .any(|u| u.eq_ignore_ascii_case(schema::PATCH_OP_SCHEMA))
    {
        Ok(())
    } else {
        Err(ScimError::InvalidSyntax(format!(
            "schemas of a PATCH request must include {:?}",
            schema::PATCH_OP_SCHEMA
        )))
    }
}

/// The strings of a `schemas` member (`null` is none); 400 when it is not a list of
/// strings.
fn schema_urns(value: &Value) -> Result<Vec<&str>, ScimError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str().ok_or_else(|| {
                    ScimError::InvalidSyntax("schemas must be a list of URN strings".into())
                })
            })
            .collect(),
        _ => Err(ScimError::InvalidSyntax(
            "schemas must be a list of URN strings".into(),
        )),
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Puts one top-level member of the body where it belongs.
fn place(
    key: String,
    value: Value,
    core: &mut Map<String, Value>,
    extensions: &mut Vec<(&'static SchemaDef, Map<String, Value>)>,
    compat: &Compatibility,
    schemas: &SchemaSet,
) -> Result<(), ScimError> {
    if key.eq_ignore_ascii_case("schemas") {
        return check_user_schemas(&value);
    }
    if value.is_null() {
        return Ok(());
    }
    if key.eq_ignore_ascii_case(USER_SCHEMA) {
        let Value::Object(inner) = value else {
            return Err(ScimError::InvalidValue(format!(
                "{key} must be a JSON object"
            )));
        };
        for (k, v) in inner {
            put(user_attribute(None, &k), v, core, "", compat, k)?;
        }
        return Ok(());
    }
    let urn_like = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !urn_like {
        return put(user_attribute(None, &key), value, core, "", compat, key);
    }
    // An extension object (the Enterprise one or a registered one).
    if let Some(schema) = schemas.extension(&key) {
        let Value::Object(inner) = value else {
            return Err(ScimError::InvalidValue(format!(
                "{key} must be a JSON object"
            )));
        };
        let attrs = extension_attrs(extensions, schema);
        for (k, v) in inner {
            put(schema.attribute(&k), v, attrs, schema.id, compat, k)?;
        }
        return Ok(());
    }
    // An attribute name carrying its schema URN: `urn:...:User:employeeNumber` (a "urn:"
    // key always has a ':').
    let Some((urn, name)) = key.rsplit_once(':') else {
        return Ok(());
    };
    if urn.eq_ignore_ascii_case(USER_SCHEMA) {
        return put(
            user_attribute(None, name),
            value,
            core,
            "",
            compat,
            String::new(),
        );
    }
    if let Some(schema) = schemas.extension(urn) {
        let attrs = extension_attrs(extensions, schema);
        let def = schema.attribute(name);
        return put(def, value, attrs, schema.id, compat, String::new());
    }
    Ok(()) // an unknown extension: ignored
}

/// The attribute object being built for `schema`.
fn extension_attrs<'a>(
    extensions: &'a mut Vec<(&'static SchemaDef, Map<String, Value>)>,
    schema: &'static SchemaDef,
) -> &'a mut Map<String, Value> {
    let at = match extensions
        .iter()
        .position(|(s, _)| std::ptr::eq(*s, schema))
    {
        Some(at) => at,
        None => {
            extensions.push((schema, Map::new()));
            extensions.len() - 1
        }
    };
    &mut extensions[at].1
}

/// Canonicalises `value` by `def` and stores it under the canonical name. Unknown
/// (`def` is `None`) and read-only attributes are dropped. `given` is the name as the
/// client wrote it: reused as the key when it is already canonical (no allocation).
pub(super) fn put(
    def: Option<&'static AttributeDef>,
    value: Value,
    out: &mut Map<String, Value>,
    prefix: &str,
    compat: &Compatibility,
    given: String,
) -> Result<(), ScimError> {
    let Some(def) = def else { return Ok(()) };
    if def.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    // The path is only formatted for an error message.
    let with_urn;
    let path: &dyn fmt::Display = if prefix.is_empty() {
        &def.name
    } else {
        with_urn = SubPath {
            parent: &prefix,
            separator: ':',
            name: def.name,
        };
        &with_urn
    };
    if out.contains_key(def.name) {
        return Err(ScimError::InvalidSyntax(format!(
            "attribute {path} is given more than once (attribute names are case-insensitive)"
        )));
    }
    if let Some(v) = canonical_value(def, value, path, compat)? {
        out.insert(canonical_key(given, def.name), v);
    }
    Ok(())
}

/// The canonical attribute name as a map key, reusing the client's spelling when it is
/// the canonical one.
fn canonical_key(given: String, name: &str) -> String {
    if given == name {
        given
    } else {
        name.to_owned()
    }
}

/// An attribute path for error messages, `parent` + `separator` + `name`, formatted only
/// when a message needs it (building it eagerly cost an allocation per attribute).
struct SubPath<'a> {
    parent: &'a dyn fmt::Display,
    separator: char,
    name: &'a str,
}

impl fmt::Display for SubPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.parent, self.separator, self.name)
    }
}

/// The canonical form of a value of attribute `def`, or `None` when it means "absent".
/// `path` names the attribute in error messages.
pub(crate) fn canonical_value(
    def: &AttributeDef,
    value: Value,
    path: &dyn fmt::Display,
    compat: &Compatibility,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        return match value {
            // Compatibility: the manager as a one-element array (Entra ID). Any other
            // singular attribute given as an array is refused below: no client needs it.
            Value::Array(mut items)
                if compat.manager_as_string && def.name == "manager" && items.len() <= 1 =>
            {
                match items.pop() {
                    Some(v) => canonical_single(def, v, path, compat),
                    None => Ok(None),
                }
            }
            value => canonical_single(def, value, path, compat),
        };
    }
    let Value::Array(items) = value else {
        // A single value for a multi-valued attribute: no known client sends it.
        return Err(ScimError::InvalidValue(format!(
            "attribute {path} must be an array"
        )));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = canonical_single(def, item, path, compat)? {
            out.push(v);
        }
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Array(out))
    })
}

pub(crate) fn canonical_single(
    def: &AttributeDef,
    value: Value,
    path: &dyn fmt::Display,
    compat: &Compatibility,
) -> Result<Option<Value>, ScimError> {
    let wrong = |expected: &str| {
        Err(ScimError::InvalidValue(format!(
            "attribute {path} must be {expected}"
        )))
    };
    match (def.kind, value) {
        (_, Value::Null) => Ok(None),
        (AttributeType::Complex, Value::Object(obj)) => {
            let mut out = Map::new();
            for (k, v) in obj {
                let Some(sub) = def.sub_attribute(&k) else {
                    continue;
                };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                let sub_path = SubPath {
                    parent: path,
                    separator: '.',
                    name: sub.name,
                };
                if let Some(v) = canonical_single(sub, v, &sub_path, compat)? {
                    out.insert(canonical_key(k, sub.name), v);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            })
        }
        // Compatibility: `"manager": "26118915-..."` (Entra, OneLogin).
        (AttributeType::Complex, Value::String(s))
            if def.name == "manager" && compat.manager_as_string =>
        {
            if s.is_empty() {
                Ok(None)
            } else {
                let mut m = Map::new();
                m.insert("value".into(), Value::String(s));
                Ok(Some(Value::Object(m)))
            }
        }
        (AttributeType::Complex, _) => wrong("a JSON object"),
        (_, value) => Ok(match canonical_simple(def, &value, path, compat)? {
            Simple::AsIs => Some(value),
            Simple::Other(v) => Some(v),
            Simple::Absent => None,
        }),
    }
}

/// How a value of a simple attribute (neither complex nor multi-valued) reads.
pub(crate) enum Simple {
    /// As it is (the common case: nothing to copy).
    AsIs,
    /// As this other value (`"True"` as `true`).
    Other(Value),
    /// As absent (`null`).
    Absent,
}

/// Reads `value` as the simple attribute `def` (see [`canonical_single`]).
pub(crate) fn canonical_simple(
    def: &AttributeDef,
    value: &Value,
    path: &dyn fmt::Display,
    compat: &Compatibility,
) -> Result<Simple, ScimError> {
    let wrong = |expected: &str| {
        Err(ScimError::InvalidValue(format!(
            "attribute {path} must be {expected}"
        )))
    };
    match (def.kind, value) {
        (_, Value::Null) => Ok(Simple::Absent),
        (AttributeType::Complex, _) => wrong("a JSON object"),
        (AttributeType::Boolean, Value::Bool(_)) => Ok(Simple::AsIs),
        // Compatibility: `"active": "True"` (Entra, OneLogin, JumpCloud).
        (AttributeType::Boolean, Value::String(s)) if compat.string_booleans => {
            match crate::compat::string_boolean(s) {
                Some(b) => Ok(Simple::Other(Value::Bool(b))),
                None => wrong("a boolean"),
            }
        }
        (AttributeType::Boolean, _) => wrong("a boolean"),
        (AttributeType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Simple::AsIs),
        (AttributeType::Integer, _) => wrong("an integer"),
        (AttributeType::Decimal, Value::Number(_)) => Ok(Simple::AsIs),
        (AttributeType::Decimal, _) => wrong("a number"),
        (AttributeType::DateTime, Value::String(s)) => {
            if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
                Ok(Simple::AsIs)
            } else {
                wrong("an RFC 3339 dateTime")
            }
        }
        (AttributeType::DateTime, _) => wrong("an RFC 3339 dateTime string"),
        (_, Value::String(s)) if s.contains('\0') => wrong("a string without NUL characters"),
        (_, Value::String(_)) => Ok(Simple::AsIs),
        (_, _) => wrong("a string"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_USER_SCHEMA;
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
