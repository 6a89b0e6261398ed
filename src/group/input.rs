//! Reading a Group request body (POST, PUT) into a [`Group`].
//!
//! Lenient as the User reader is: attribute names in any letter case, with or without
//! the Group URN; `null` is absent; `id`, `meta` and unknown attributes are ignored
//! (read-only or not ours); a member's `display`, `type` and `$ref` are ignored (only
//! `value`, the user's id, counts; `$ref: null` is absent). Refused with 400: a body that
//! is not a JSON object, a `schemas` naming another core resource, a missing or empty
//! `displayName`, a value of the wrong type, a member without a `value`, the same
//! attribute twice in different letter case.

use serde_json::{Map, Value};

use super::{GROUP_SCHEMA, Group, GroupMember};
use crate::error::ScimError;
use crate::resource::CompactString;

/// Reads a Group resource from a request body.
pub fn parse_group(body: &[u8]) -> Result<Group, ScimError> {
    group_from_value(crate::resource::json::parse_body(body)?)
}

/// Reads a Group resource from its JSON form (a path-less PATCH value reads its members
/// the same way).
pub(crate) fn group_from_value(value: Value) -> Result<Group, ScimError> {
    let Value::Object(object) = value else {
        return Err(ScimError::InvalidSyntax(
            "a Group resource must be a JSON object".into(),
        ));
    };
    let mut group = Group::default();
    let mut display_name = None;
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in object {
        let name = super::without_urn(&key);
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(ScimError::InvalidSyntax(format!(
                "attribute {name:?} is given twice"
            )));
        }
        seen.push(lower.clone());
        match lower.as_str() {
            "schemas" => check_schemas(&value)?,
            "displayname" => display_name = string(&value, "displayName")?,
            "externalid" => group.external_id = string(&value, "externalId")?,
            "members" => group.members = members(value)?,
            // Read-only (`id`, `meta`), or not an attribute of the Group resource.
            _ => {}
        }
    }
    group.display_name = display_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ScimError::InvalidValue("displayName is required".into()))?;
    Ok(group)
}

/// `schemas`: absent, or a list of strings naming no other core resource than Group.
fn check_schemas(value: &Value) -> Result<(), ScimError> {
    let urns: &[Value] = match value {
        Value::Null => &[],
        Value::Array(items) => items,
        _ => {
            return Err(ScimError::InvalidSyntax(
                "schemas must be a list of URN strings".into(),
            ));
        }
    };
    for urn in urns {
        let Some(urn) = urn.as_str() else {
            return Err(ScimError::InvalidSyntax(
                "schemas must be a list of URN strings".into(),
            ));
        };
        let core = "urn:ietf:params:scim:schemas:core:";
        let messages = "urn:ietf:params:scim:api:messages:";
        let other = |prefix: &str| {
            urn.get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        };
        if other(messages) || (other(core) && !urn.eq_ignore_ascii_case(GROUP_SCHEMA)) {
            return Err(ScimError::InvalidSyntax(format!(
                "schemas names {urn:?}, which is not the Group resource"
            )));
        }
    }
    Ok(())
}

/// A string attribute (`null`: absent).
fn string(value: &Value, name: &str) -> Result<Option<CompactString>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.contains('\0') => Err(ScimError::InvalidValue(format!(
            "{name} must not contain a NUL character"
        ))),
        Value::String(s) => Ok(Some(s.as_str().into())),
        _ => Err(ScimError::InvalidValue(format!("{name} must be a string"))),
    }
}

/// `members`: `null` or a list of member objects (a single object is read as a list of
/// one, as some clients send it in a PATCH value).
pub(crate) fn members(value: Value) -> Result<Vec<GroupMember>, ScimError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(ScimError::InvalidValue(
                "members must be a list of member objects".into(),
            ));
        }
    };
    items.into_iter().map(member).collect()
}

/// One member object: its `value` (the user's id) is required.
fn member(value: Value) -> Result<GroupMember, ScimError> {
    let Value::Object(object) = value else {
        return Err(ScimError::InvalidValue(
            "each member must be an object with a value".into(),
        ));
    };
    let id = member_value(&object)?;
    Ok(Group::member(id))
}

fn member_value(object: &Map<String, Value>) -> Result<CompactString, ScimError> {
    let mut found = None;
    for (key, value) in object {
        if key.eq_ignore_ascii_case("value") {
            if found.is_some() {
                return Err(ScimError::InvalidSyntax(
                    "a member's value is given twice".into(),
                ));
            }
            found = string(value, "members.value")?;
        }
    }
    found
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ScimError::InvalidValue("each member must have a value (an id)".into()))
}
