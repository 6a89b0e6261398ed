//! Required attributes chosen by the host: beyond `userName`, a product may require, say,
//! `name.givenName`, `name.familyName` and `emails`. Checked on every write (POST, PUT,
//! PATCH) and advertised as `required: true` in `/Schemas`.

use serde_json::Value;

use crate::error::ScimError;
use crate::filter::AttrPath;
use crate::resource::User;
use crate::schema::{SchemaSet, USER_SCHEMA};

/// One required attribute path, resolved against the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Required {
    /// `None` for the core schema.
    extension: Option<&'static str>,
    /// Canonical attribute name.
    attribute: &'static str,
    /// Canonical sub-attribute name.
    sub: Option<&'static str>,
}

impl Required {
    /// Parses and resolves `path` (e.g. `name.givenName`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`).
    /// Extension URNs are those of `schemas`.
    pub(crate) fn parse(path: &str, schemas: &SchemaSet) -> Result<Self, String> {
        let bad = || format!("{path:?} is not a known User attribute path");
        let AttrPath {
            urn,
            name,
            sub_attr,
        } = AttrPath::parse(path).ok_or_else(bad)?;
        let (extension, def) = match urn.as_deref() {
            Some(u) if !u.eq_ignore_ascii_case(USER_SCHEMA) => {
                let ext = schemas.extension(u).ok_or_else(bad)?;
                (Some(ext.id), ext.attribute(&name))
            }
            _ => (None, schemas.attribute(None, &name)),
        };
        let def = def.ok_or_else(bad)?;
        let sub = match sub_attr {
            Some(s) => Some(def.sub_attribute(&s).ok_or_else(bad)?.name),
            None => None,
        };
        Ok(Self {
            extension,
            attribute: def.name,
            sub,
        })
    }

    /// The extension URN of the attribute, `None` for the core schema.
    pub(crate) fn extension(&self) -> Option<&'static str> {
        self.extension
    }

    fn display(&self) -> String {
        let mut s = String::new();
        if let Some(e) = self.extension {
            s.push_str(e);
            s.push(':');
        }
        s.push_str(self.attribute);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub);
        }
        s
    }

    /// Whether the rendered user has a non-empty value here.
    fn present_in(&self, doc: &Value) -> bool {
        let container = match self.extension {
            Some(e) => doc.get(e),
            None => Some(doc),
        };
        let Some(v) = container.and_then(|c| c.get(self.attribute)) else {
            return false;
        };
        match (v, self.sub) {
            (Value::Array(items), Some(sub)) => items.iter().any(|e| non_empty(e.get(sub))),
            (Value::Object(o), Some(sub)) => non_empty(o.get(sub)),
            (v, None) => non_empty(Some(v)),
            _ => false,
        }
    }
}

fn non_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}

/// Every attribute a server requires beyond `userName`, in the order [`check`] lists
/// them: those the host's extension schemas mark required, then the host's `paths`
/// (resolved against `schemas`), each once.
pub(crate) fn resolve(paths: &[String], schemas: &SchemaSet) -> Result<Vec<Required>, String> {
    let mut host: Vec<Required> = Vec::new();
    for path in paths {
        let r = Required::parse(path, schemas)?;
        if !host.contains(&r) {
            host.push(r);
        }
    }
    let mut all: Vec<Required> = schemas
        .extensions()
        .iter()
        .flat_map(|s| {
            s.attributes
                .iter()
                .filter(|a| a.required)
                .map(|a| Required {
                    extension: Some(s.id),
                    attribute: a.name,
                    sub: None,
                })
        })
        .filter(|r| !host.contains(r))
        .collect();
    all.extend(host);
    Ok(all)
}

/// 400 `invalidValue` listing every required attribute `user` lacks (`required` as
/// [`resolve`] gives it).
pub(crate) fn check(required: &[Required], user: &User) -> Result<(), ScimError> {
    if required.is_empty() {
        return Ok(());
    }
    let doc = user.to_value();
    let missing: Vec<String> = required
        .iter()
        .filter(|r| !r.present_in(&doc))
        .map(Required::display)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ScimError::InvalidValue(format!(
            "missing required attributes: {}",
            missing.join(", ")
        )))
    }
}

/// Marks the required attributes as `required: true` in a `/Schemas` document.
pub(crate) fn advertise(required: &[Required], schema_id: &str, schema: &mut Value) {
    let Some(attrs) = schema.get_mut("attributes").and_then(Value::as_array_mut) else {
        return;
    };
    let in_schema = |r: &&Required| match r.extension {
        None => schema_id == USER_SCHEMA,
        Some(e) => e == schema_id,
    };
    for r in required.iter().filter(in_schema) {
        let Some(attr) = attrs.iter_mut().find(|a| a["name"] == r.attribute) else {
            continue;
        };
        match r.sub {
            None => attr["required"] = Value::Bool(true),
            Some(sub) => {
                if let Some(s) = attr
                    .get_mut("subAttributes")
                    .and_then(Value::as_array_mut)
                    .and_then(|subs| subs.iter_mut().find(|s| s["name"] == sub))
                {
                    s["required"] = Value::Bool(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::Compatibility;
    use crate::resource::input::user_from_value;
    use crate::schema::ENTERPRISE_USER_SCHEMA;
    use serde_json::json;

    #[test]
    fn resolves_paths_case_insensitively_and_refuses_unknown_ones() {
        let r = Required::parse("NAME.givenname", SchemaSet::core()).unwrap();
        assert_eq!((r.attribute, r.sub), ("name", Some("givenName")));
        let e = Required::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            SchemaSet::core(),
        )
        .unwrap();
        assert_eq!(e.extension, Some(ENTERPRISE_USER_SCHEMA));
        assert!(Required::parse("shoeSize", SchemaSet::core()).is_err());
        assert!(Required::parse("name.shoeSize", SchemaSet::core()).is_err());
        assert!(Required::parse("a b", SchemaSet::core()).is_err());
    }

    #[test]
    fn check_lists_every_missing_attribute() {
        let req: Vec<_> = ["name.givenName", "name.familyName", "emails"]
            .into_iter()
            .map(|p| Required::parse(p, SchemaSet::core()).unwrap())
            .collect();
        let u = user_from_value(
            json!({"userName": "a", "name": {"givenName": "A"}}),
            &Compatibility::default(),
            crate::schema::SchemaSet::core(),
        )
        .unwrap();
        let e = check(&req, &u).unwrap_err();
        assert!(
            matches!(&e, ScimError::InvalidValue(m) if m.contains("name.familyName") && m.contains("emails") && !m.contains("givenName")),
            "{e:?}"
        );
    }
}
